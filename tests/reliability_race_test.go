//go:build race

package tests

// raceEnabled: the race detector's shadow memory grows with the memory the
// program touches, so VmRSS bounds are looser under -race.
const raceEnabled = true
