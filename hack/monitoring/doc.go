// Package monitoring tests the operator's alerts (config/prometheus/rules) and Grafana dashboard
// (config/grafana) with Prometheus' own rule and PromQL parsers, and keeps the list of metric names
// they use (testdata/metric-names.txt) that the end-to-end suite checks against a running
// operator. It is a module of its own so that the operator's go.mod does not carry Prometheus.
package monitoring
