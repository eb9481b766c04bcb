package controllers

import (
	"slices"

	"github.com/go-logr/logr"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// lazyValues returns logger with kv, which its sink is handed only when a line is written: zap
// encodes the values of WithValues at once, and a pass or a job that logs nothing (a routine
// resync) would pay for it every time. What is logged is the same.
func lazyValues(logger logr.Logger, kv ...any) logr.Logger {
	sink := logger.GetSink()
	if sink == nil {
		return logger.WithValues(kv...)
	}
	if s, ok := sink.(*lazySink); ok {
		return logger.WithSink(&lazySink{sink: s.sink, kv: append(slices.Clip(s.kv), kv...)})
	}
	if cd, ok := sink.(logr.CallDepthLogSink); ok {
		sink = cd.WithCallDepth(1) // the frame of lazySink's Info or Error
	}
	return logger.WithSink(&lazySink{sink: sink, kv: kv})
}

// lazySink keeps the values of WithValues aside until a line is written.
type lazySink struct {
	sink logr.LogSink
	kv   []any
}

func (s *lazySink) Init(logr.RuntimeInfo) {} // sink was initialised when its logger was made

func (s *lazySink) Enabled(level int) bool { return s.sink.Enabled(level) }

func (s *lazySink) Info(level int, msg string, kv ...any) {
	s.sink.WithValues(s.kv...).Info(level, msg, kv...)
}

func (s *lazySink) Error(err error, msg string, kv ...any) {
	s.sink.WithValues(s.kv...).Error(err, msg, kv...)
}

func (s *lazySink) WithValues(kv ...any) logr.LogSink {
	return &lazySink{sink: s.sink, kv: append(slices.Clip(s.kv), kv...)}
}

func (s *lazySink) WithCallDepth(depth int) logr.LogSink {
	if cd, ok := s.sink.(logr.CallDepthLogSink); ok {
		return &lazySink{sink: cd.WithCallDepth(depth), kv: s.kv}
	}
	return s
}

func (s *lazySink) WithName(name string) logr.LogSink {
	return &lazySink{sink: s.sink.WithName(name), kv: s.kv}
}

// logConstructor is the overview controllers' request logger: the values controller-runtime's
// own gives (the controller, the kind, the request), kept aside until a line is written.
func (r *OverviewReconciler) logConstructor(base logr.Logger) func(*reconcile.Request) logr.Logger {
	kind := r.kind.entity.Kind
	base = base.WithValues("controller", r.kind.name(), "controllerGroup", "intune.overview-operator.io", "controllerKind", kind)
	return func(req *reconcile.Request) logr.Logger {
		if req == nil {
			return base
		}
		return lazyValues(base, kind, klog.KRef(req.Namespace, req.Name), "namespace", req.Namespace, "name", req.Name)
	}
}
