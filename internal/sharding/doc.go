// Package sharding shares work by key among the live replicas of a ring, on Kubernetes Leases.
//
// Each replica holds a Lease of its own in the ring's namespace and renews it; the replicas whose
// Leases were renewed within the lease duration (as each replica observes it, like client-go's
// leader election) are the ring's members. Every replica assigns the keys it knows to the
// members (Assign) and publishes, in its Lease, the keys it claims. A replica sends for a key
// (Ring.Owns) only while it claims that key in its Lease, the assignment gives it the key, and no
// other live member claims it, as a read of the Leases made after its own claim was written
// shows. A key it is no longer assigned it stops sending for at once, and takes out of its claim
// only when no call for it is in flight; a replica that cannot renew its Lease within the renew
// deadline stops sending for every key, before the others can see its Lease expire. So a key
// changes hands only after its old owner has stopped sending for it, never while it still may.
// On a clean shutdown a replica stops sending, waits for its calls in flight and deletes its
// Lease, so that the others take its keys over at their next look.
//
// Replicas of another ring (another deployment) in the namespace are not members; a key that one
// of them claims too is counted (Ring.Shared) and logged: two deployments that share a tenant each
// spend the whole of its budget.
package sharding
