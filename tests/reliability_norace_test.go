//go:build !race

package tests

// raceEnabled: see reliability_race_test.go.
const raceEnabled = false
