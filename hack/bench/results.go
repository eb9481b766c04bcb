package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Results are a run's figures; bench.json is this struct.
type Results struct {
	Date time.Time `json:"date"`
	// Commit is the operator's source the run measured: `git describe --always --dirty`.
	Commit    string          `json:"commit"`
	Machine   Machine         `json:"machine"`
	Settings  Settings        `json:"settings"`
	FirstSync *FirstSync      `json:"firstSync,omitempty"`
	Steady    *SteadyState    `json:"steadyState,omitempty"`
	Change    *ChangeLatency  `json:"changeLatency,omitempty"`
	Cost      *Cost           `json:"cost,omitempty"`
	Fairness  *Fairness       `json:"fairness,omitempty"`
	Client    *ClientBench    `json:"graphClient,omitempty"`
	APIServer *APIServerBench `json:"apiServer,omitempty"`
	Replicas  *ReplicaRun     `json:"replicas,omitempty"`
	Targets   []Target        `json:"targets"`
	// Phases are when each phase ran, in seconds since the operator started, the origin of
	// requests.csv's times.
	Phases []Phase `json:"phases"`
}

// Phase is when one phase ran.
type Phase struct {
	Name         string  `json:"name"`
	StartSeconds float64 `json:"startSeconds"`
	EndSeconds   float64 `json:"endSeconds"`
}

// Machine is where the run happened.
type Machine struct {
	CPUs      int    `json:"cpus"`
	CPUModel  string `json:"cpuModel"`
	MemoryMiB int    `json:"memoryMiB"`
	Kernel    string `json:"kernel"`
	Go        string `json:"go"`
	// LoadAverage is /proc/loadavg's one-minute figure when the run started: the machine may be
	// shared.
	LoadAverage string `json:"loadAverage"`
}

// Settings are the run's parameters.
type Settings struct {
	Resources int `json:"resources"`
	// UserOverviews and DeviceOverviews are how many of the resources of figures 1 to 3 are of
	// each kind (-device-overviews).
	UserOverviews   int `json:"userOverviews"`
	DeviceOverviews int `json:"deviceOverviews"`
	Tenants         int `json:"tenants"`
	// Replicas is -replicas: operator processes with --sharding, when 2 or more.
	Replicas              int      `json:"replicas,omitempty"`
	TimeScale             float64  `json:"timeScale"`
	EmulatorWindowSeconds float64  `json:"emulatorWindowSeconds"`
	BudgetWindowSeconds   float64  `json:"budgetWindowSeconds"`
	LatencySeconds        float64  `json:"latencySeconds"`
	SyncIntervalSeconds   float64  `json:"syncIntervalSeconds"`
	OperatorFlags         []string `json:"operatorFlags"`
}

// FirstSync is figure 1.
type FirstSync struct {
	Resources     int     `json:"resources"`
	CreateSeconds float64 `json:"createSeconds"`
	// FirstRequestSeconds is from the first create to the first Graph request.
	FirstRequestSeconds float64 `json:"firstRequestSeconds"`
	// ReadySeconds is from the first create to the last resource seen Ready; ReadyP50 the median.
	// When NotReady resources were still not Ready at the timeout, ReadySeconds is when the wait
	// gave up (so it and Ratio are lower bounds) and ReadyP50 is the median of those that were.
	ReadySeconds float64 `json:"readySeconds"`
	ReadyP50     float64 `json:"readyP50Seconds"`
	NotReady     int     `json:"notReady,omitempty"`
	Requests     int     `json:"requests"`
	GETs         int     `json:"gets"`
	PATCHes      int     `json:"patches"`
	// ReadBackGETs are the first GET of a configuration after each PATCH Graph accepted: the job's
	// read-back. ResyncGETs are the other GETs of a resource already PATCHed: its sync slot came
	// during the first sync.
	ReadBackGETs int `json:"readBackGets"`
	ResyncGETs   int `json:"resyncGets"`
	// FirstPassesPerResource is ReconcilesPerResource without the resyncs' passes, counted at two
	// each (the pass that submits the read and the one that reports it, as the steady state
	// measures): what the first sync itself cost.
	FirstPassesPerResource  float64 `json:"firstPassesPerResource"`
	GETPerResource          float64 `json:"getPerResource"`
	PATCHPerResource        float64 `json:"patchPerResource"`
	Throttled               int     `json:"throttled429"`
	ThrottledFraction       float64 `json:"throttledFraction"`
	StatusWrites            int     `json:"statusWrites"`
	StatusWritesPerResource float64 `json:"statusWritesPerResource"`
	// ReconcilesPerResource counts the operator's passes (controller_runtime_reconcile_total).
	ReconcilesPerResource float64 `json:"reconcilesPerResource"`
	BoundSeconds          float64 `json:"boundSeconds"`
	Bound                 string  `json:"bound"`
	Ratio                 float64 `json:"ratio"`
	// CreationBoundSeconds is the bound given when each resource was created (creationBound), and
	// CreationRatio the time to all Ready over it.
	CreationBoundSeconds float64 `json:"creationBoundSeconds"`
	CreationRatio        float64 `json:"creationRatio"`
	// CPUShares is the cores each process used on average from the first create to the last
	// Ready: on a machine of two cores, what the operator's pace competed with.
	CPUShares map[string]float64 `json:"cpuShares,omitempty"`
	// CPUCreating is the same while the resources were being created, when the first window's
	// PATCHes go out: the busiest part of the first sync.
	CPUCreating map[string]float64 `json:"cpuWhileCreating,omitempty"`
	// APIWrites are the API server's write requests over the same time (kinds of at least a hundredth
	// of the resources' count): the creates, the status writes and the events it had to serve.
	APIWrites []APIWrites `json:"apiServerWrites,omitempty"`
	// Kinds are the figures by kind, when the run had DeviceConfigurationDeviceOverviews.
	Kinds []KindFigures `json:"kinds,omitempty"`
	// WriteLimit is Lw, the writes a tenant may send per window: the picture's staircase steps by it.
	WriteLimit int `json:"writeLimitPerWindow"`

	// readyByTenant holds each tenant's times to Ready in seconds, sorted: the picture's series.
	// Left out of bench.json, which stays readable; firstsync.svg shows them.
	readyByTenant [][]float64
}

// KindFigures are one kind's part of the first sync.
type KindFigures struct {
	Kind      string `json:"kind"`
	Resources int    `json:"resources"`
	Ready     int    `json:"ready"`
	GETs      int    `json:"gets"`
	PATCHes   int    `json:"patches"`
	Throttled int    `json:"throttled429"`
}

// SteadyState is figure 2.
type SteadyState struct {
	IntervalSeconds float64 `json:"intervalSeconds"`
	GETs            int     `json:"gets"`
	PATCHes         int     `json:"patches"`
	Throttled       int     `json:"throttled429"`
	// GETsByResource counts the resources by how many GETs followed their one sync slot in the
	// interval, before their next: 1 is right, 0 a missed resync, 2 or more a double read.
	GETsByResource map[int]int `json:"getsByResource"`
	// SlotDelayP50 and SlotDelayP99 are how long after its slot a resource's GET came.
	SlotDelayP50            float64 `json:"slotDelayP50Seconds"`
	SlotDelayP99            float64 `json:"slotDelayP99Seconds"`
	GETPerResource          float64 `json:"getPerResourcePerResync"`
	PATCHPerResource        float64 `json:"patchPerResourcePerResync"`
	StatusWrites            int     `json:"statusWrites"`
	StatusWritesPerResource float64 `json:"statusWritesPerResourcePerResync"`
	// ReconcilesPerResource counts the operator's passes (controller_runtime_reconcile_total).
	ReconcilesPerResource float64 `json:"reconcilesPerResourcePerResync"`
	CPUSeconds            float64 `json:"cpuSeconds"`
	CPUMillisPerResync    float64 `json:"cpuMillisPerResync"`
}

// ChangeLatency is figure 3.
type ChangeLatency struct {
	IdleResources int      `json:"idleResources"`
	Burst         *Latency `json:"burst"`
	Paced         *Latency `json:"paced"`
}

// Latency is the time from spec changes to the emulator receiving their PATCHes.
type Latency struct {
	Changes int `json:"changes"`
	// SpacingSeconds is the time between two changes; 0 for all at once.
	SpacingSeconds float64 `json:"spacingSeconds"`
	P50            float64 `json:"p50Seconds"`
	P99            float64 `json:"p99Seconds"`
	Max            float64 `json:"maxSeconds"`
	// UpdateP50 and UpdateP99 are the update's own round trip through the API server, from just
	// before it to its answer: the part of the latency the operator has no say in.
	UpdateP50 float64 `json:"updateP50Seconds"`
	UpdateP99 float64 `json:"updateP99Seconds"`
	// GetP50 and GetP99 are the time from the update to the arrival of the first GET of its
	// configuration after it, at the emulator: the watch, the pass and the job's start.
	GetP50 float64 `json:"getP50Seconds"`
	GetP99 float64 `json:"getP99Seconds"`
	// Missing changes reached Ready without a PATCH after the update (none expected).
	Missing      int `json:"missing"`
	StatusWrites int `json:"statusWrites"`
}

// Cost is figure 4, for the operator's whole run.
type Cost struct {
	WallSeconds float64 `json:"wallSeconds"`
	CPUSeconds  float64 `json:"cpuSeconds"`
	// PeakHeapBytes is the largest heap at a collection and PeakLiveHeapBytes the largest left live
	// after one, over GCs collections (GODEBUG=gctrace=1, whole MiB).
	PeakHeapBytes     float64 `json:"peakHeapBytes"`
	PeakLiveHeapBytes float64 `json:"peakLiveHeapBytes"`
	GCs               int     `json:"gcs"`
	PeakRSSBytes      float64 `json:"peakRSSBytes"`
	// IdleRSSBytes is the resident set with the connections Ready and no resource yet.
	IdleRSSBytes float64 `json:"idleRSSBytes"`
	// RSSAt10kBytes extrapolates the peak linearly from IdleRSSBytes to 10,000 resources, when the
	// run had fewer.
	RSSAt10kBytes float64 `json:"rssAt10kBytesEstimate,omitempty"`
	// ObjectBytes and ManagedFieldsBytes are the mean size, as JSON, of a resource and of its
	// metadata.managedFields, which the operator's cache keeps too.
	ObjectBytes        float64 `json:"objectBytes"`
	ManagedFieldsBytes float64 `json:"managedFieldsBytes"`
	// Resources is how many DeviceConfigurationUserOverviews existed at the end.
	Resources int                `json:"resources"`
	Metrics   map[string]float64 `json:"operatorMetrics"`
}

// Fairness is figure 5.
type Fairness struct {
	BigBacklog     int `json:"bigTenantBacklog"`
	SmallResources int `json:"smallTenantResources"`
	// AloneSeconds is the small tenant's time to Ready with nothing else to do; LoadedSeconds with
	// the big tenant's backlog queued just before.
	AloneSeconds  float64 `json:"aloneSeconds"`
	LoadedSeconds float64 `json:"loadedSeconds"`
	// BigReadyMeanwhile is how many of the backlog were Ready when the small tenant was.
	BigReadyMeanwhile int `json:"bigReadyMeanwhile"`
	// BigDrainSeconds is the throttling bound of the big tenant's backlog.
	BigDrainSeconds float64 `json:"bigDrainBoundSeconds"`
}

// ClientBench is figure 6.
type ClientBench struct {
	Command string       `json:"command"`
	Client  BenchFigures `json:"clientGetPatch"`
	HTTP    BenchFigures `json:"httpGetPatch"`
}

// APIServerBench is figure 7: what the API server's writes cost it, measured alone.
type APIServerBench struct {
	Command string           `json:"command"`
	Writes  []APIServerWrite `json:"writes"`
}

// APIServerWrite is one kind of write: the API server's CPU per write, and the writes a second it
// sustained, 16 at once, with nothing else running.
type APIServerWrite struct {
	Write     string  `json:"write"`
	CPUMillis float64 `json:"cpuMillis"`
	PerSecond float64 `json:"perSecond"`
}

// BenchFigures is one Go benchmark's result.
type BenchFigures struct {
	Iterations  int     `json:"iterations"`
	NsPerOp     float64 `json:"nsPerOp"`
	BytesPerOp  float64 `json:"bytesPerOp"`
	AllocsPerOp float64 `json:"allocsPerOp"`
}

// Target is one of the targets and how the run fared.
type Target struct {
	Name     string `json:"name"`
	Target   string `json:"target"`
	Measured string `json:"measured"`
	// Met is "yes", "no", or "n/a" when the run did not measure it as the target states it.
	Met  string `json:"met"`
	Note string `json:"note,omitempty"`
}

func newResults(c config) *Results {
	r := &Results{
		Date:    time.Now().UTC().Truncate(time.Second),
		Commit:  commit(c.root),
		Machine: machine(),
		Settings: Settings{
			Resources:           c.n,
			Tenants:             c.tenants,
			TimeScale:           c.timeScale,
			LatencySeconds:      c.latency.Seconds(),
			SyncIntervalSeconds: c.syncInterval.Seconds(),
		},
	}
	if c.replicas > 1 {
		r.Settings.Replicas = c.replicas
	}
	return r
}

// commit describes the checkout at root, "" when git cannot.
func commit(root string) string {
	cmd := exec.Command("git", "describe", "--always", "--dirty")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

func machine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), Go: runtime.Version()}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
				m.MemoryMiB = kb / 1024
			}
		}
	}
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(data))
	}
	if data, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(data)); len(f) > 0 {
			m.LoadAverage = f[0]
		}
	}
	return m
}

// writeResults prints the table and writes bench.md and bench.json to dir.
func writeResults(dir string, r *Results) error {
	r.evaluate()
	md := r.markdown()
	os.Stdout.WriteString("\n" + md)
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(dir+"/bench.json", append(data, '\n'), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(dir+"/bench.md", []byte(md), 0o644); err != nil {
		return err
	}
	if r.FirstSync != nil {
		if err := os.WriteFile(dir+"/firstsync.svg", firstSyncSVG(r), 0o644); err != nil {
			return err
		}
	}
	logf("Wrote %s/bench.md, bench.json and firstsync.svg", dir)
	return nil
}

// ReplicaRun is figure 8, a -replicas run: N operator processes with --sharding share the first
// sync's tenants; one is killed (SIGKILL) when half the resources are Ready, and another stopped
// (SIGTERM) when three quarters are.
type ReplicaRun struct {
	Replicas int `json:"replicas"`
	// LeaseDurationSeconds is the lease the replicas' Leases state: how long the others wait after
	// a killed replica's last renewal before they take its tenants.
	LeaseDurationSeconds float64          `json:"leaseDurationSeconds"`
	Members              []ReplicaFigures `json:"members"`
	// Killed is the replica killed, KilledAtSeconds when (from the first create), and ReadyAtKill
	// how many resources were Ready then.
	Killed          string  `json:"killed,omitempty"`
	KilledAtSeconds float64 `json:"killedAtSeconds,omitempty"`
	ReadyAtKill     int     `json:"readyAtKill,omitempty"`
	// AfterKill are the hand-overs of the killed replica's tenants.
	AfterKill []HandOver `json:"afterKill,omitempty"`
	// OthersReadySeconds is the time to all Ready of the tenants the killed replica did not hold,
	// and OthersRatio its ratio to the first sync's bound.
	// OthersCreationRatio is the same over their bound given when each was created.
	OthersReadySeconds  float64 `json:"othersReadySeconds,omitempty"`
	OthersRatio         float64 `json:"othersRatio,omitempty"`
	OthersCreationRatio float64 `json:"othersCreationRatio,omitempty"`
	// Stopped is the replica sent SIGTERM when three quarters of the resources were Ready
	// (StoppedAtSeconds, ReadyAtStop), and AfterStop the hand-overs of its tenants.
	Stopped          string     `json:"stopped,omitempty"`
	StoppedAtSeconds float64    `json:"stoppedAtSeconds,omitempty"`
	ReadyAtStop      int        `json:"readyAtStop,omitempty"`
	AfterStop        []HandOver `json:"afterStop,omitempty"`
	// TwoWriterMoments counts, over the whole run, the runs of one tenant's requests from a replica
	// that had sent for it before another replica did (A … B … A), in TwoWriterTenants tenants.
	TwoWriterMoments int `json:"twoWriterMoments"`
	TwoWriterTenants int `json:"twoWriterTenants"`
	// LiveMoves counts the times a tenant's requests went from one replica to another that was
	// still running: the ring moved a key between live replicas.
	LiveMoves int `json:"liveMoves"`
	// DuplicatePATCHes are the first sync's PATCHes accepted for an overview already PATCHed.
	DuplicatePATCHes int `json:"duplicatePatches"`
	// Unnamed are the Graph requests without the X-Overview-Operator-Replica header (none expected).
	Unnamed int `json:"unnamed"`
	// CPUSpread is the most CPU seconds of a replica over the fewest, up to the kill (when each
	// had its share of the tenants), or over the whole run without a kill.
	CPUSpread float64 `json:"cpuSpread"`
}

// ReplicaFigures are one replica's part.
type ReplicaFigures struct {
	Name string `json:"name"`
	// TenantsAtStart is overview_shard_keys_owned once the ring had settled, TenantsAtEnd at the
	// end of the run (or just before it was killed or stopped); TenantsSentFor the tenants its
	// requests of the first sync named.
	TenantsAtStart int `json:"tenantsAtStart"`
	TenantsAtEnd   int `json:"tenantsAtEnd"`
	TenantsSentFor int `json:"tenantsSentFor"`
	// Requests and PATCHes are its Graph requests of the first sync.
	Requests int `json:"requests"`
	PATCHes  int `json:"patches"`
	// CPUSeconds, PeakRSSBytes are over the run, up to its end; IdleRSSBytes once the ring settled.
	CPUSeconds float64 `json:"cpuSeconds"`
	// CPUSecondsAtKill is its CPU time just before the kill.
	CPUSecondsAtKill float64 `json:"cpuSecondsAtKill,omitempty"`
	PeakRSSBytes     float64 `json:"peakRSSBytes"`
	IdleRSSBytes     float64 `json:"idleRSSBytes"`
	// Ended is "SIGKILL" or "SIGTERM" when it was killed or stopped, at EndedSeconds from the first
	// create.
	Ended        string  `json:"ended,omitempty"`
	EndedSeconds float64 `json:"endedSeconds,omitempty"`
}

// HandOver is one tenant of a replica killed or stopped: seconds from the signal (-1: never).
type HandOver struct {
	Tenant string `json:"tenant"`
	// Pending are its resources not Ready at the kill.
	Pending int `json:"pending,omitempty"`
	// ClaimSeconds is when another replica's Lease claimed it (ClaimedBy), read every 50 ms.
	ClaimSeconds float64 `json:"claimSeconds"`
	ClaimedBy    string  `json:"claimedBy,omitempty"`
	// FirstRequestSeconds is its first Graph request from another replica (FirstRequestBy).
	FirstRequestSeconds float64 `json:"firstRequestSeconds"`
	FirstRequestBy      string  `json:"firstRequestBy,omitempty"`
	// CompleteSeconds is when its last resource was Ready (-1 when none was left).
	CompleteSeconds float64 `json:"completeSeconds"`
	// Throttled are its requests answered 429 after the signal.
	Throttled int `json:"throttled429"`
}
