package helm

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"sigs.k8s.io/yaml"
)

// The docs the specs below hold to what the chart and config/sharded render, and to bin/manager:
// the install page's section on sharding, and the flags page's table.
const (
	installPage     = "docs/install.md"
	flagsPage       = "docs/flags.md"
	shardingHeading = "## Running several replicas (sharding)"
)

// doc returns a page of the docs, by its path from the repository's root.
func doc(page string) string {
	GinkgoHelper()
	b, err := os.ReadFile(filepath.Join(root, page))
	Expect(err).NotTo(HaveOccurred())
	return string(b)
}

// docSection returns a page's section under heading (the whole line), up to the next heading of
// its level or above; lines in code blocks are no headings.
func docSection(page, heading string) string {
	GinkgoHelper()
	level := len(heading) - len(strings.TrimLeft(heading, "#"))
	headingLine := regexp.MustCompile(`^(#+) `)
	lines := strings.Split(doc(page), "\n")
	start, inFence := -1, false
	for i, l := range lines {
		if strings.HasPrefix(l, "```") {
			inFence = !inFence
		}
		if inFence {
			continue
		}
		if start < 0 {
			if l == heading {
				start = i + 1
			}
			continue
		}
		if m := headingLine.FindStringSubmatch(l); m != nil && len(m[1]) <= level {
			return strings.Join(lines[start:i], "\n")
		}
	}
	Expect(start).NotTo(Equal(-1), "%s has no heading %q", page, heading)
	return strings.Join(lines[start:], "\n")
}

// codeBlocks returns the fenced code blocks of a Markdown text, without their fences.
func codeBlocks(text string) []string {
	var blocks []string
	for _, m := range regexp.MustCompile("(?s)```[a-z]*\n(.*?)```").FindAllStringSubmatch(text, -1) {
		blocks = append(blocks, m[1])
	}
	return blocks
}

// backticked returns the `code` spans of a Markdown table cell or line.
func backticked(text string) []string {
	var out []string
	for _, m := range regexp.MustCompile("`([^`]+)`").FindAllStringSubmatch(text, -1) {
		out = append(out, m[1])
	}
	return out
}

// tableRows returns the cells of the rows of the Markdown tables in text whose first cell starts
// with prefix.
func tableRows(text, prefix string) [][]string {
	var rows [][]string
	for _, l := range strings.Split(text, "\n") {
		if !strings.HasPrefix(l, "| "+prefix) {
			continue
		}
		cells := strings.Split(strings.Trim(l, "|"), " | ")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		rows = append(rows, cells)
	}
	return rows
}

// shardingValueRow is a row of the section's table that names a value of the chart's sharding
// block and the flag it sets.
type shardingValueRow struct {
	value, flag, def string
}

// shardingValueRows returns the section's rows of the sharding.* values that set a flag of their
// own (sharding.enabled sets --sharding, which the other specs check).
func shardingValueRows(section string) []shardingValueRow {
	GinkgoHelper()
	var rows []shardingValueRow
	for _, cells := range tableRows(section, "`sharding.") {
		Expect(len(cells)).To(BeNumerically(">=", 3), "row %v", cells)
		values, flags, defs := backticked(cells[0]), backticked(cells[1]), backticked(cells[2])
		Expect(values).To(HaveLen(1), "row %v: one value", cells)
		Expect(flags).To(HaveLen(1), "row %v: one flag", cells)
		if values[0] == "sharding.enabled" {
			Expect(flags[0]).To(Equal("--sharding"))
			continue
		}
		Expect(defs).To(HaveLen(1), "row %v: the default", cells)
		rows = append(rows, shardingValueRow{value: values[0], flag: flags[0], def: defs[0]})
	}
	return rows
}

// sectionCommand returns the section's helm command, and the one value it sets (key=value).
func sectionCommand(section string) (command, set string) {
	GinkgoHelper()
	for _, b := range codeBlocks(section) {
		if strings.Contains(b, "helm upgrade") || strings.Contains(b, "helm install") {
			Expect(command).To(BeEmpty(), "one helm command in the section")
			command = b
		}
	}
	Expect(command).NotTo(BeEmpty(), "the section's helm command")
	Expect(command).To(ContainSubstring(" charts/overview-operator "))
	Expect(command).To(ContainSubstring("--namespace " + namespace))
	Expect(command).To(MatchRegexp(`helm (upgrade --install|install) ` + release + ` `))
	sets := regexp.MustCompile(`--set(?:-string)?[ =](\S+)`).FindAllStringSubmatch(command, -1)
	Expect(sets).To(HaveLen(1), "deploying it is one value: %s", command)
	Expect(command).NotTo(MatchRegexp(`(--values|-f) `), "deploying it is one value: %s", command)
	return command, sets[0][1]
}

var _ = Describe("The install page's section on running several replicas", func() {
	var (
		section string
		// set is the one value the section's helm command sets; replicas, what it sets replicaCount to.
		set      string
		replicas int
		// budget is the PodDisruptionBudget's maxUnavailable the section names.
		budget int
	)

	BeforeEach(func() {
		section = docSection(installPage, shardingHeading)
		_, set = sectionCommand(section)
		Expect(set).To(HavePrefix("replicaCount="), "the one value is replicaCount")
		var err error
		replicas, err = strconv.Atoi(strings.TrimPrefix(set, "replicaCount="))
		Expect(err).NotTo(HaveOccurred())
		Expect(replicas).To(BeNumerically(">", 1))
		m := regexp.MustCompile("`maxUnavailable: ([0-9]+)`").FindStringSubmatch(section)
		Expect(m).NotTo(BeNil(), "the section names the PodDisruptionBudget's `maxUnavailable: N`")
		budget, err = strconv.Atoi(m[1])
		Expect(err).NotTo(HaveOccurred())
	})

	It("deploys with its one value what it says the chart renders: --sharding in place of --leader-elect, the PodDisruptionBudget, the spread across nodes, the Leases' Role", func() {
		for _, s := range []string{
			"`replicaCount: " + strconv.Itoa(replicas) + "`", "`--sharding`", "`--leader-elect`", "PodDisruptionBudget",
			"`kubernetes.io/hostname`", "`ScheduleAnyway`", "`topologySpreadConstraints`", "`POD_NAME`",
			"`get`", "`list`", "`watch`", "`create`", "`update`", "`patch`", "`delete`",
		} {
			Expect(section).To(ContainSubstring(s))
		}
		// The ring's default the section names is the one the chart gives the release the docs
		// install.
		ring := regexp.MustCompile("the release's prefix \\(`([a-z0-9-]+)`\\)").FindStringSubmatch(section)
		Expect(ring).NotTo(BeNil(), "the section names the ring's default for the docs' release")
		expectSharded(helmTemplateSet(set), int64(replicas), ring[1], budget)
		Expect(section).To(ContainSubstring(shardRingLabel + ": <ring>"))
	})

	It("names config/sharded, which kustomize builds to the same", func() {
		Expect(section).To(ContainSubstring("DEPLOY_CONFIG=config/sharded"))
		Expect(section).To(ContainSubstring("-k config/sharded"))
		expectSharded(kustomizeBuild(filepath.Join(root, "config", "sharded")), int64(replicas), "overview-operator", budget)
	})

	It("says replicaCount: 1 renders what the chart always did: leader election, no PodDisruptionBudget", func() {
		Expect(section).To(ContainSubstring("`replicaCount: 1` renders what the chart always did"))
		objs := helmTemplateSet("replicaCount=1")
		expectLeaderElection(objs)
		Expect(kinds(objs)).NotTo(ContainElement("PodDisruptionBudget"))
		Expect(spreadOf(objs)).To(BeNil())
	})

	It("says how to keep leader election with several replicas, and how to shard one", func() {
		Expect(section).To(ContainSubstring("`sharding.enabled: false`"))
		expectLeaderElection(helmTemplateSet(set, "sharding.enabled=false"))
		Expect(section).To(ContainSubstring("`sharding.enabled: true` shards even one"))
		Expect(managerArgs(helmTemplateSet("replicaCount=1", "sharding.enabled=true"))).To(ContainElement("--sharding"))
	})

	It("lists every sharding value of the chart, with the flag each renders", func() {
		b, err := os.ReadFile(filepath.Join(chart, "values.yaml"))
		Expect(err).NotTo(HaveOccurred())
		var values struct {
			Sharding map[string]any `json:"sharding"`
		}
		Expect(yaml.Unmarshal(b, &values)).To(Succeed())
		var want []string
		for k := range values.Sharding {
			if k != "enabled" {
				want = append(want, "sharding."+k)
			}
		}
		rows := shardingValueRows(section)
		var got []string
		for _, r := range rows {
			got = append(got, r.value)
		}
		Expect(got).To(ConsistOf(want), "the section's table vs values.yaml's sharding block")
		Expect(section).To(ContainSubstring("`sharding.enabled`"))

		for _, r := range rows {
			sample := "blue"
			if regexp.MustCompile(`^[0-9]+(ms|s|m|h)$`).MatchString(r.def) {
				sample = "21s"
			}
			Expect(managerArgs(helmTemplateSet(set, r.value+"="+sample))).To(ContainElement(r.flag+"="+sample), "%s", r.value)
		}
	})

	It("gives the hand-over times from the defaults it lists, as the flags table does", func() {
		defaults := map[string]string{}
		for _, r := range shardingValueRows(section) {
			defaults[r.flag] = r.def
		}
		// The event table's figures: "the lease duration (15 s)" and so on.
		for phrase, flag := range map[string]string{
			"lease duration": "--sharding-lease-duration",
			"renew deadline": "--sharding-renew-deadline",
			"retry period":   "--sharding-retry-period",
		} {
			Expect(defaults).To(HaveKey(flag))
			ms := regexp.MustCompile(phrase+` \(([0-9]+) s\)`).FindAllStringSubmatch(section, -1)
			Expect(ms).NotTo(BeEmpty(), "the section gives the %s's figure", phrase)
			for _, m := range ms {
				Expect(m[1]+"s").To(Equal(defaults[flag]), "the %s in the section's text vs its table", phrase)
			}
		}

		// The flags page's table: rows of flags and their defaults in the same order.
		var inFlagsTable int
		for _, cells := range tableRows(doc(flagsPage), "`--sharding") {
			flags, defs := backticked(cells[0]), backticked(cells[1])
			for i, f := range flags {
				if d, ok := defaults[f]; ok {
					Expect(defs).To(HaveLen(len(flags)), "flags table row %v", cells)
					Expect(defs[i]).To(Equal(d), "%s's default: the flags table vs the sharding section", f)
					inFlagsTable++
				}
			}
		}
		Expect(inFlagsTable).To(Equal(len(defaults)), "every sharding flag of the section is in the flags table")
	})

	It("gives the operator's own defaults of the sharding flags", func() {
		help := managerHelp()
		for _, r := range shardingValueRows(section) {
			name := strings.TrimPrefix(r.flag, "--")
			want := r.def
			if strings.HasPrefix(r.value, "sharding.ring") {
				// The chart names the ring after the release; the flag's own default is the docs'
				// release's, which the flags table gives.
				want = `"` + r.def + `"`
			}
			Expect(help).To(MatchRegexp(`(?m)^\s+-`+regexp.QuoteMeta(name)+`\s[^\n]*\n[^\n]*\(default `+regexp.QuoteMeta(want)+`\)`),
				"bin/manager's default of %s vs the docs' %s; run make build if it is stale", r.flag, r.def)
		}
	})

	It("says static sharding must split by tenant, where the flags table describes --watch-label-selector", func() {
		Expect(section).To(ContainSubstring("`--watch-label-selector`"))
		Expect(section).To(ContainSubstring("split it by tenant"))
		Expect(section).To(ContainSubstring("429"))
		rows := tableRows(doc(flagsPage), "`--watch-label-selector`")
		Expect(rows).To(HaveLen(1))
		Expect(rows[0][2]).To(ContainSubstring("by tenant"))
		Expect(rows[0][2]).NotTo(ContainSubstring("to shard them across deployments"))
	})
})
