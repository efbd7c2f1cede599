package seccomp

import (
	"slices"

	"golang.org/x/net/bpf"

	"github.com/sandlock-go/sandlock-go/syscalls"
)

// The search over syscall numbers is a binary tree of jge instructions
// whose leaves are the intervals. Its shape is chosen by the cost of the
// paths that matter.
//
// A syscall that runs (Allow, Log, or conditions that may let it run) is
// the hot path: the filter is all it pays. A trapped syscall (Notify,
// Errno, a kill) pays far more for the trap than for a few more jumps, and
// a number that is no syscall of the table (a gap, x32) is rare. So each
// interval gets a slack, how many levels deeper than a hot one it may sit,
// and the tree minimizes the deepest leaf's depth minus its slack: the
// alphabetic minimax tree, found by dynamic programming. For n intervals
// the hot leaves end up at most about log2(n) deep, often less.
const (
	slackHot  = 0
	slackCold = 2 // a trapped syscall
	slackNone = 4 // no syscall of the table
)

// slacks returns the slack of each interval.
func slacks(arch *syscalls.Arch, ivs []interval) []int {
	var table []int
	for _, s := range arch.Syscalls() {
		table = append(table, s.Number)
	}
	slices.Sort(table)
	end := uint64(arch.MaxNumber()) + 1
	count := func(lo, hi uint64) int { // table syscalls in [lo, hi)
		i, _ := slices.BinarySearch(table, int(min(lo, end)))
		j, _ := slices.BinarySearch(table, int(min(hi, end)))
		return j - i
	}
	s := make([]int, len(ivs))
	for i, iv := range ivs {
		next := uint64(1) << 32
		if i+1 < len(ivs) {
			next = uint64(ivs[i+1].start)
		}
		switch {
		case count(uint64(iv.start), next) == 0:
			s[i] = slackNone
		case len(iv.out.rules) > 0 || iv.out.final == Allow || iv.out.final == Log:
			s[i] = slackHot
		default:
			s[i] = slackCold
		}
	}
	return s
}

// searchTree holds, for every range [i, j) of intervals, the cost of its
// best subtree (deepest leaf depth minus slack) and where to split it.
type searchTree struct {
	stride int
	cost   []int16
	split  []int16
}

func (t *searchTree) at(i, j int) int { return i*t.stride + j }

func newSearchTree(slack []int) *searchTree {
	n := len(slack)
	t := &searchTree{stride: n + 1, cost: make([]int16, n*(n+1)+n+1), split: make([]int16, n*(n+1)+n+1)}
	for i := range n {
		t.cost[t.at(i, i+1)] = int16(-slack[i])
	}
	for length := 2; length <= n; length++ {
		for i := 0; i+length <= n; i++ {
			j := i + length
			// cost(i, k) grows with k and cost(k, j) shrinks: the best
			// split is where they cross.
			lo, hi := i+1, j-1
			for lo < hi {
				k := (lo + hi) / 2
				if t.cost[t.at(i, k)] >= t.cost[t.at(k, j)] {
					hi = k
				} else {
					lo = k + 1
				}
			}
			best, bestCost := -1, int16(0)
			mid := (i + j) / 2
			for _, k := range []int{lo - 1, lo} {
				if k <= i || k >= j {
					continue
				}
				c := max(t.cost[t.at(i, k)], t.cost[t.at(k, j)])
				if best < 0 || c < bestCost || c == bestCost && abs(k-mid) < abs(best-mid) {
					best, bestCost = k, c
				}
			}
			t.cost[t.at(i, j)] = bestCost + 1
			t.split[t.at(i, j)] = int16(best)
		}
	}
	return t
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// search emits the search tree over ivs, sorted by start, with the syscall
// number in A.
func (a *assembler) search(ivs []interval, slack []int) {
	a.searchRange(ivs, newSearchTree(slack), 0, len(ivs))
}

func (a *assembler) searchRange(ivs []interval, t *searchTree, i, j int) {
	if j-i == 1 {
		a.outcome(ivs[i].out)
		return
	}
	k := int(t.split[t.at(i, j)])
	lo, emitLo := a.subtree(ivs, t, i, k)
	hi, emitHi := a.subtree(ivs, t, k, j)
	// The costlier side comes first, reached without a jump, so that a
	// trampoline for a far jump lands on the cheaper side.
	if t.cost[t.at(i, k)] >= t.cost[t.at(k, j)] {
		a.jump(bpf.JumpGreaterOrEqual, ivs[k].start, hi, lo)
		emitLo()
		emitHi()
	} else {
		a.jump(bpf.JumpLessThan, ivs[k].start, lo, hi)
		emitHi()
		emitLo()
	}
}

// subtree returns the label of the subtree over ivs[i:j] and a function
// that emits it. A single interval with a constant outcome needs no code of
// its own: its label is a shared return.
func (a *assembler) subtree(ivs []interval, t *searchTree, i, j int) (label, func()) {
	if out := ivs[i].out; j-i == 1 && len(out.rules) == 0 {
		return a.retLabel(out.final.Ret()), func() {}
	}
	l := a.newLabel()
	return l, func() {
		a.mark(l)
		a.searchRange(ivs, t, i, j)
	}
}
