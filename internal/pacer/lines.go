package pacer

import (
	"container/list"
	"time"
)

// place is a job waiting in line: its key, its kind and its place (seq: lower goes first).
type place struct {
	key      string
	kind     Kind
	job      Job
	seq      uint64
	queuedAt time.Time
	elem     *list.Element
}

// lines are a tenant's lines of waiting jobs, one per Kind, each in the order of its places, with
// at most one place per key: a key that waits already keeps its place and runs the newest job
// submitted for it.
type lines struct {
	byKind  [3]*list.List // Read, Write, Background
	waiting map[string]*place
	seq     uint64
}

func newLines() lines {
	return lines{byKind: [3]*list.List{list.New(), list.New(), list.New()}, waiting: map[string]*place{}}
}

// submit puts job in the line of kind under key. A key that waits keeps its place and runs job
// (a write submitted for a key waiting to read takes the write line at its place); a key not
// waiting takes a new place at the end.
func (l *lines) submit(key string, kind Kind, job Job, now time.Time) {
	if p, ok := l.waiting[key]; ok {
		p.job = job
		if p.kind != kind {
			l.byKind[p.kind].Remove(p.elem)
			p.kind = kind
			l.insert(p)
		}
		return
	}
	l.seq++
	p := &place{key: key, kind: kind, job: job, seq: l.seq, queuedAt: now}
	l.waiting[key] = p
	l.insert(p)
}

// withdraw gives key's place back; it reports whether key was waiting.
func (l *lines) withdraw(key string) bool {
	p, ok := l.waiting[key]
	if ok {
		l.byKind[p.kind].Remove(p.elem)
		delete(l.waiting, key)
	}
	return ok
}

// front is the first place of kind's line, or nil.
func (l *lines) front(kind Kind) *place {
	if e := l.byKind[kind].Front(); e != nil {
		return e.Value.(*place)
	}
	return nil
}

// take takes p out of its line: its job starts.
func (l *lines) take(p *place) {
	l.byKind[p.kind].Remove(p.elem)
	delete(l.waiting, p.key)
}

// putBack puts a throttled job back at the place it had, at the head of its line. If its key was
// submitted again meanwhile, the newer job keeps the older place and the throttled one is
// dropped; putBack reports whether p itself went back.
func (l *lines) putBack(p *place) bool {
	if newer, ok := l.waiting[p.key]; ok {
		if p.seq < newer.seq {
			l.byKind[newer.kind].Remove(newer.elem)
			newer.seq = p.seq
			l.insert(newer)
		}
		return false
	}
	l.waiting[p.key] = p
	l.insert(p)
	return true
}

// insert puts p in its line by its place. Newcomers go to the end at once; a job put back goes
// near the front.
func (l *lines) insert(p *place) {
	line := l.byKind[p.kind]
	for e := line.Back(); e != nil; e = e.Prev() {
		if e.Value.(*place).seq < p.seq {
			p.elem = line.InsertAfter(p, e)
			return
		}
	}
	p.elem = line.PushFront(p)
}

// len is how many jobs wait in kind's line.
func (l *lines) len(kind Kind) int { return l.byKind[kind].Len() }

// total is how many jobs wait.
func (l *lines) total() int { return len(l.waiting) }
