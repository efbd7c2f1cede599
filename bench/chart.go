package main

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Colors of the chart: sandlock-go, the reference supervisor, the rest.
var (
	colorSandlock  = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}
	colorReference = color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff}
	colorOther     = color.RGBA{R: 0x99, G: 0x99, B: 0x99, A: 0xff}
)

// writeChart draws docs/benchmarks.png: the per-call cost (log scale),
// throughput per thread count, Python start-up and /bin/true start-up.
func writeChart(r *results, path string) error {
	perCall, err := perCallPlot(r.perCall)
	if err != nil {
		return err
	}
	tp, err := throughputPlot(r.throughput)
	if err != nil {
		return err
	}
	w := r.workload
	py, err := barPlot("Python start-up (ms, median)", w.s, []string{cfgPyBare, cfgPyTrace, cfgPyPolicy},
		[]string{"bare", "sandlock-go, Continue on trace set", "sandlock-go, path policy"}, 1e3)
	if err != nil {
		return err
	}
	st, err := barPlot("Start-up of /bin/true (ms, median)", r.startup.s, r.startup.names,
		startupLabels(r.startup.names), 1e3)
	if err != nil {
		return err
	}
	img := vgimg.New(16*vg.Inch, 11*vg.Inch)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 2, Cols: 2, PadTop: vg.Points(12), PadBottom: vg.Points(12),
		PadLeft: vg.Points(12), PadRight: vg.Points(24), PadX: vg.Points(40), PadY: vg.Points(40)}
	plots := [][]*plot.Plot{{perCall, tp}, {py, st}}
	canvases := plot.Align(plots, tiles, dc)
	for i, row := range plots {
		for j, p := range row {
			p.Draw(canvases[i][j])
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// perCallPlot is a horizontal bar chart of ns per call on a log scale: the
// bars are log10(ns), the axis is labelled in time units.
func perCallPlot(pc *perCall) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "getppid: ns per call (median, log scale)"
	names := pc.names
	// The first configuration at the top.
	var logs plotter.Values
	var labels []string
	var xys plotter.XYs
	var texts []string
	for i := len(names) - 1; i >= 0; i-- {
		v := pc.s.med(names[i])
		logs = append(logs, math.Log10(max(v, 1)))
		labels = append(labels, names[i])
		xys = append(xys, plotter.XY{X: math.Log10(max(v, 1)), Y: float64(len(labels) - 1)})
		texts = append(texts, " "+num(v, 0))
	}
	for i, name := range labels {
		bars, err := plotter.NewBarChart(single(logs, i), vg.Points(14))
		if err != nil {
			return nil, err
		}
		bars.Horizontal = true
		bars.Color = seriesColor(name)
		bars.LineStyle.Width = 0
		p.Add(bars)
	}
	lbl, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: texts})
	if err != nil {
		return nil, err
	}
	p.Add(lbl)
	p.NominalY(labels...)
	p.X.Min, p.X.Max = 1, math.Ceil(maxOf(logs))+0.6
	p.X.Tick.Marker = logTicks{}
	p.X.Label.Text = "ns per call"
	p.Add(plotter.NewGrid())
	return p, nil
}

// single returns vs with every value but the i-th set to zero, so that
// each bar can have its own color.
func single(vs plotter.Values, i int) plotter.Values {
	out := make(plotter.Values, len(vs))
	out[i] = vs[i]
	return out
}

func maxOf(vs plotter.Values) float64 {
	m := math.Inf(-1)
	for _, v := range vs {
		m = max(m, v)
	}
	return m
}

func seriesColor(name string) color.Color {
	switch {
	case len(name) >= 11 && name[:11] == "sandlock-go":
		return colorSandlock
	case len(name) >= 9 && name[:9] == "reference":
		return colorReference
	}
	return colorOther
}

// logTicks labels an axis of log10(ns) values in time units.
type logTicks struct{}

func (logTicks) Ticks(lo, hi float64) []plot.Tick {
	var ts []plot.Tick
	for e := math.Ceil(lo); e <= hi; e++ {
		ts = append(ts, plot.Tick{Value: e, Label: nsLabel(math.Pow(10, e))})
		for m := 2.0; m < 10; m++ {
			if v := e + math.Log10(m); v <= hi {
				ts = append(ts, plot.Tick{Value: v})
			}
		}
	}
	return ts
}

func nsLabel(ns float64) string {
	switch {
	case ns >= 1e6:
		return strconv.FormatFloat(ns/1e6, 'g', 3, 64) + " ms"
	case ns >= 1e3:
		return strconv.FormatFloat(ns/1e3, 'g', 3, 64) + " µs"
	}
	return strconv.FormatFloat(ns, 'g', 3, 64) + " ns"
}

// throughputPlot draws calls per second against victim threads, for
// sandlock-go and the reference.
func throughputPlot(tp *throughput) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "Throughput: trapped getppid calls per second (median)"
	p.X.Label.Text = "victim threads"
	p.Y.Label.Text = "calls/s"
	p.Legend.Left = true
	for _, sup := range []struct {
		name string
		c    color.Color
	}{{"sandlock-go", colorSandlock}, {"reference", colorReference}} {
		var xys plotter.XYs
		for _, n := range tp.threads {
			xys = append(xys, plotter.XY{X: float64(n), Y: tp.s.med(tpName(sup.name, n))})
		}
		line, points, err := plotter.NewLinePoints(xys)
		if err != nil {
			return nil, err
		}
		line.Color, points.Color = sup.c, sup.c
		line.Width = vg.Points(2)
		p.Add(line, points)
		p.Legend.Add(sup.name, line, points)
	}
	p.Y.Min = 0
	p.X.Min = 0
	p.Y.Tick.Marker = groupedTicks{}
	var ticks []plot.Tick
	for _, n := range tp.threads {
		ticks = append(ticks, plot.Tick{Value: float64(n), Label: strconv.Itoa(n)})
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	p.Add(plotter.NewGrid())
	return p, nil
}

// barPlot is a horizontal bar chart of the medians of names, scaled, with
// the value written after each bar.
func barPlot(title string, s samples, names, labels []string, scale float64) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	var vals plotter.Values
	var ls []string
	var xys plotter.XYs
	var texts []string
	for i := len(names) - 1; i >= 0; i-- {
		v := s.med(names[i]) * scale
		vals = append(vals, v)
		ls = append(ls, labels[i])
		xys = append(xys, plotter.XY{X: v, Y: float64(len(ls) - 1)})
		texts = append(texts, fmt.Sprintf(" %.1f", v))
	}
	for i := range vals {
		bars, err := plotter.NewBarChart(single(vals, i), vg.Points(26))
		if err != nil {
			return nil, err
		}
		bars.Horizontal = true
		bars.Color = seriesColor(ls[i])
		bars.LineStyle.Width = 0
		p.Add(bars)
	}
	lbl, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: texts})
	if err != nil {
		return nil, err
	}
	p.Add(lbl)
	p.NominalY(ls...)
	p.X.Min = 0
	p.X.Max = maxOf(vals) * 1.25
	p.Add(plotter.NewGrid())
	return p, nil
}

func startupLabels(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		switch n {
		case cfgStartBare:
			out[i] = "bare (os/exec)"
		case cfgStartLibrary:
			out[i] = "sandlock-go library, minimal program"
		case cfgStartBench:
			out[i] = "sandlock-go library, bench binary"
		case cfgStartCLI:
			out[i] = "sandlock-go CLI"
		case cfgStartBwrap:
			out[i] = "bwrap"
		case cfgStartBwrapAll:
			out[i] = "bwrap --unshare-all"
		default:
			out[i] = n
		}
	}
	return out
}

// groupedTicks are the default ticks labelled with thousands separators.
type groupedTicks struct{}

func (groupedTicks) Ticks(lo, hi float64) []plot.Tick {
	ts := plot.DefaultTicks{}.Ticks(lo, hi)
	for i := range ts {
		if ts[i].Label != "" {
			ts[i].Label = num(ts[i].Value, 0)
		}
	}
	return ts
}
