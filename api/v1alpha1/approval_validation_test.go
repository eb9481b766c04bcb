package v1alpha1_test

import (
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

var _ = Describe("A connection's approvalJustification", func() {
	const controlMessage = "approvalJustification must be plain text on one line, without control characters"

	DescribeTable("is admitted as plain text of at most 1024 characters",
		func(text string) {
			for _, manifest := range []string{validConnection, validClusterConnection} {
				Expect(create(object(manifest, "spec.approvalJustification", text))).To(Succeed())
			}
		},
		Entry("a sentence", "Managed by overview-operator from git.example.com/intune (CHG-1234)"),
		Entry("other scripts", "Géré par l'opérateur — 変更管理 ✓"),
		Entry("1024 characters, of two bytes each", strings.Repeat("é", 1024)),
	)

	DescribeTable("is refused with control characters",
		func(text string) {
			for _, manifest := range []string{validConnection, validClusterConnection} {
				err := create(object(manifest, "spec.approvalJustification", text))
				Expect(apierrors.IsInvalid(err)).To(BeTrue(), "%v", err)
				Expect(err.Error()).To(ContainSubstring("spec.approvalJustification: Invalid value"))
				Expect(err.Error()).To(ContainSubstring(controlMessage))
			}
		},
		Entry("a line break", "first line\nsecond line"),
		Entry("a carriage return", "text\r"),
		Entry("a tab", "a\tb"),
		Entry("NUL", "a\x00b"),
		Entry("DEL", "a\x7fb"),
		Entry("a C1 control (NEL)", "a\u0085b"),
	)

	It("is refused over 1024 characters, Intune's limit", func() {
		err := create(object(validConnection, "spec.approvalJustification", strings.Repeat("a", 1025)))
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "%v", err)
		Expect(err.Error()).To(ContainSubstring("spec.approvalJustification: Too long"))
		Expect(err.Error()).To(ContainSubstring("1024"))
	})

	It("is explained by kubectl explain, as is the status it leads to", func() {
		out := strings.Join(strings.Fields(kubectl.Run("explain", "graphconnection.spec.approvalJustification")), " ")
		Expect(out).To(ContainSubstring("Multi Admin Approval"))
		Expect(out).To(ContainSubstring("Base64-encodes it into Graph's x-msft-approval-justification header"))
		Expect(out).To(ContainSubstring("ApprovalPending"))
		Expect(out).To(ContainSubstring("ApprovalRequired"))
		Expect(out).To(ContainSubstring("At most 1024 characters"))
		out = strings.Join(strings.Fields(kubectl.Run("explain", "clustergraphconnection.spec.approvalJustification")), " ")
		Expect(out).To(ContainSubstring("Multi Admin Approval"))
		for _, short := range []string{"dcuo", "dcdo"} {
			out = strings.Join(strings.Fields(kubectl.Run("explain", short+".status.approvalRequest")), " ")
			Expect(out).To(ContainSubstring("Multi Admin Approval holds"))
			out = strings.Join(strings.Fields(kubectl.Run("explain", short+".status.approvalRequest.generation")), " ")
			Expect(out).To(ContainSubstring("a newer spec needs a new request"))
		}
	})
})
