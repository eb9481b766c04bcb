// Package pacer keeps an app's calls to a remote API under the limits the API counts per app in a
// tenant and per tenant across its apps, and decides what happens to a job the API throttled. It
// knows nothing of HTTP: a job's calls report facts (a call was sent, answered, throttled until a
// time, in a scope) and the pacer alone decides when the next job starts and whether a throttled
// job runs again.
//
// It is made of parts that can be read alone, each in its own file:
//
//   - lines (lines.go): the places of the jobs waiting, keyed by their owner, one line per Kind;
//   - the window log and the budget (window.go, budget.go): what was sent and booked in the
//     API's window, and when the next job fits;
//   - the tenant (tenant.go): the budget the keys of one tenant share (the API's limit across a
//     tenant's apps), and their turns for it, so that none starves;
//   - the pause (pause.go): extended only, then one job at a time until a call is answered; a
//     throttling pauses its key, its tenant or its app (Scope);
//   - the sizing (sizing.go): how many jobs a tenant runs at once, from its successful calls;
//   - the ceiling (ceiling.go): the places in flight across all tenants, served in turn;
//   - the dispatcher (pacer.go) that starts jobs as all of them admit, and the registry
//     (registry.go) of pacers by key, which drops a pacer that has nothing left to remember;
//   - the ticket (ticket.go) through which a job's calls are sent and report what became of
//     them, and the job's timeout on the pacer's clock (timeout.go).
//
// Every part reads one injected Clock, so that tests play time by hand (see pacertest).
package pacer
