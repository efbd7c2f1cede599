package notif

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// The kernel these tests run on (Linux 6.18) has every feature; a probe
// that says otherwise here is wrong, so it fails instead of skipping.
func TestFeaturesOnThisKernel(t *testing.T) {
	v, err := KernelVersion()
	require.NoError(t, err)
	if v[0] < 6 || v[0] == 6 && v[1] < 6 {
		t.Skipf("kernel %d.%d is older than 6.6; the expectations below are for 6.6+", v[0], v[1])
	}
	names := map[string]bool{}
	for _, f := range Features() {
		t.Run(f.Name, func(t *testing.T) {
			names[f.Name] = true
			require.NoError(t, f.Check())
			require.NoError(t, f.Check(), "cached answer")
			assert.NotEmpty(t, f.MinimumVersion)
		})
	}
	assert.Len(t, names, 5)
}

func TestFeaturesList(t *testing.T) {
	assert.Equal(t, []*Feature{HaveUserNotif, HaveWaitKillableRecv, HaveAddFDSend, HaveSyncWakeUp, HaveLandlock}, Features())
	for _, tc := range []struct {
		f             *Feature
		name, version string
	}{
		{HaveUserNotif, "seccomp user notification", "5.0"},
		{HaveWaitKillableRecv, "WAIT_KILLABLE_RECV", "5.19"},
		{HaveAddFDSend, "ADDFD SEND", "5.14"},
		{HaveSyncWakeUp, "sync wake-up", "6.6"},
		{HaveLandlock, "Landlock", "5.13"},
	} {
		assert.Equal(t, tc.name, tc.f.Name)
		assert.Equal(t, tc.version, tc.f.MinimumVersion)
	}
}

func TestLandlockABI(t *testing.T) {
	abi, err := LandlockABI()
	require.NoError(t, err)
	assert.GreaterOrEqual(t, abi, 1)
}

func TestSizesMatchKernel(t *testing.T) {
	s, err := Sizes()
	require.NoError(t, err)
	assert.Equal(t, KernelSizes{Notif: 80, Resp: 24, Data: 64}, s)
	assert.Equal(t, SizeofNotif, int(s.Notif))
	assert.Equal(t, SizeofResp, int(s.Resp))
	assert.Equal(t, SizeofData, int(s.Data))
}

func TestUnsupportedFeatureError(t *testing.T) {
	e := &UnsupportedFeatureError{Name: "ADDFD SEND", MinimumVersion: "5.14"}
	assert.Equal(t, "ADDFD SEND not supported (requires Linux >= 5.14)", e.Error())
	e.Reason = "running 5.10"
	assert.Equal(t, "ADDFD SEND not supported (requires Linux >= 5.14): running 5.10", e.Error())

	wrapped := fmt.Errorf("set up: %w", e)
	assert.ErrorIs(t, wrapped, ErrNotSupported)
	var got *UnsupportedFeatureError
	require.ErrorAs(t, wrapped, &got)
	assert.Equal(t, "5.14", got.MinimumVersion)
	assert.NotErrorIs(t, wrapped, unix.ENOSYS)
	assert.NotErrorIs(t, errors.New("other"), ErrNotSupported)

	f := newFeature("sync wake-up", "6.6", nil)
	err := f.unsupported("running 6.1")
	assert.Equal(t, "sync wake-up not supported (requires Linux >= 6.6): running 6.1", err.Error())
	assert.ErrorIs(t, err, ErrNotSupported)
}

// Check caches conclusive answers only: available, or not supported.
func TestFeatureCheckCaching(t *testing.T) {
	for _, tc := range []struct {
		name      string
		first     error
		wantCalls int
	}{
		{"available", nil, 1},
		{"unsupported", &UnsupportedFeatureError{Name: "x", MinimumVersion: "9.9"}, 1},
		{"wrapped unsupported", fmt.Errorf("probe: %w", &UnsupportedFeatureError{Name: "x", MinimumVersion: "9.9"}), 1},
		{"inconclusive", unix.EPERM, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			f := newFeature("x", "9.9", func() error {
				calls++
				if calls == 1 {
					return tc.first
				}
				return nil
			})
			err := f.Check()
			assert.Equal(t, tc.first, err)
			second := f.Check()
			assert.Equal(t, tc.wantCalls, calls)
			if tc.wantCalls == 1 {
				assert.Equal(t, tc.first, second, "cached answer is returned again")
			} else {
				assert.NoError(t, second, "an inconclusive answer is retried")
			}
		})
	}
}

func TestProbeVersion(t *testing.T) {
	v, err := KernelVersion()
	require.NoError(t, err)
	f := newFeature("x", "", nil)
	assert.NoError(t, probeVersion(f, v[0], v[1]))
	assert.NoError(t, probeVersion(f, v[0]-1, 99))
	assert.NoError(t, probeVersion(f, v[0], 0))
	err = probeVersion(f, v[0], v[1]+1)
	assert.ErrorIs(t, err, ErrNotSupported)
	assert.Contains(t, err.Error(), fmt.Sprintf("running %d.%d", v[0], v[1]))
	assert.ErrorIs(t, probeVersion(f, v[0]+1, 0), ErrNotSupported)
}

func TestLeadingDigits(t *testing.T) {
	for in, want := range map[string]string{
		"18":           "18",
		"18-rc1":       "18",
		"18.44-fc-v65": "18",
		"6+":           "6",
		"0":            "0",
		"":             "",
		"rc1":          "",
		"-1":           "",
		"123abc456":    "123",
	} {
		assert.Equal(t, want, leadingDigits(in), "leadingDigits(%q)", in)
	}
}

// KernelVersion must agree with an independent parse of uname's release.
func TestKernelVersion(t *testing.T) {
	var uts unix.Utsname
	require.NoError(t, unix.Uname(&uts))
	release := unix.ByteSliceToString(uts.Release[:])
	var major, minor int
	_, err := fmt.Sscanf(strings.ReplaceAll(release, "-", " "), "%d.%d", &major, &minor)
	require.NoError(t, err, release)

	v, err := KernelVersion()
	require.NoError(t, err)
	assert.Equal(t, [2]int{major, minor}, v, release)
	assert.GreaterOrEqual(t, v[0], 5)
}
