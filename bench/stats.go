package main

import (
	"fmt"
	"math"
	"slices"
)

// config is one configuration of an interleaved measurement: run returns
// one sample (ns per call, seconds, calls per second...).
type config struct {
	name string
	run  func() (float64, error)
}

// samples holds the samples of each configuration, in round order, so that
// samples of one round can be compared with each other.
type samples map[string][]float64

// interleave runs every configuration once per round, rotating the order
// each round (ABAB, BABA...), so that a drift in the machine's load hits
// all of them alike.
func interleave(rounds int, cfgs []config) (samples, error) {
	s := make(samples)
	for r := range rounds {
		for i := range cfgs {
			c := cfgs[(i+r)%len(cfgs)]
			v, err := c.run()
			if err != nil {
				return nil, fmt.Errorf("%s: %w", c.name, err)
			}
			s[c.name] = append(s[c.name], v)
		}
	}
	return s, nil
}

// median returns the median of vs, NaN when empty.
func median(vs []float64) float64 {
	if len(vs) == 0 {
		return math.NaN()
	}
	c := slices.Clone(vs)
	slices.Sort(c)
	if len(c)%2 == 1 {
		return c[len(c)/2]
	}
	return (c[len(c)/2-1] + c[len(c)/2]) / 2
}

// med is the median of one configuration.
func (s samples) med(name string) float64 { return median(s[name]) }

// ratio is the median over rounds of a[r]/b[r]: the ratio of two
// configurations measured side by side.
func (s samples) ratio(a, b string) float64 {
	return s.pairwise(a, b, func(x, y float64) float64 { return x / y })
}

// pairwise is the median over rounds of f(a[r], b[r]).
func (s samples) pairwise(a, b string, f func(x, y float64) float64) float64 {
	xs, ys := s[a], s[b]
	n := min(len(xs), len(ys))
	out := make([]float64, 0, n)
	for i := range n {
		out = append(out, f(xs[i], ys[i]))
	}
	return median(out)
}

// overheadRatio is the median over rounds of (a-base)/(b-base): how much of
// the cost over base a adds compared with b. It is NaN when b's overhead is
// within noise (under minDelta), where the ratio would mean nothing.
func (s samples) overheadRatio(a, b, base string, minDelta float64) float64 {
	xs, ys, zs := s[a], s[b], s[base]
	n := min(len(xs), len(ys), len(zs))
	out := make([]float64, 0, n)
	for i := range n {
		out = append(out, (xs[i]-zs[i])/(ys[i]-zs[i]))
	}
	if s.pairwise(b, base, func(x, y float64) float64 { return x - y }) < minDelta {
		return math.NaN()
	}
	return median(out)
}
