package graph

import "github.com/overview-operator/overview-operator/internal/pacer"

// WriteRequests is how much of a tenant's request budget one write books: its GET, its PATCH and
// the GET that reads it back (a WriteJob). Limits.Requests below it never start a write, so the
// operator refuses such a budget at start.
const WriteRequests = pacer.WriteRequests
