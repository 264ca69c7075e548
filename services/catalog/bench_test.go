package catalog

import (
	"encoding/json"
	"testing"
)

// benchmarkSelections is a fully customised air conditioner: every option
// answered, rules of all three kinds evaluated, most price components used.
func benchmarkSelections() []Selection {
	return []Selection{
		num("capacity", "5.2"), pick("energyClass", "A_PPP"), pick("refrigerant", "R32"),
		pick("panelColour", "GRAPHITE"), pick("panelFinish", "BRUSHED"), pick("wifi", "SMART_HOME"),
		picks("filters", "UV_C", "HEPA"), text("engraving", "Zhang Wei"), pick("installKit", "PIPE_5M"),
		pick("warranty", "Y5"), pick("noise", "QUIET"),
	}
}

// BenchmarkConfigure measures a whole quote: validation, rules, pricing, lead
// time, BOM and routing. Read it against the baseline below, which only decodes
// the same selections from the JSON a client sends: the ratio says how much of a
// request the configurator costs.
func BenchmarkConfigure(b *testing.B) {
	tpl, sel := AirConditioner(), benchmarkSelections()
	b.ReportAllocs()
	for b.Loop() {
		if res := Configure(tpl, sel, 60); !res.Valid {
			b.Fatalf("invalid: %v", res.Violations)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "configs/s")
}

// BenchmarkBaselineJSONDecodeSelections decodes the selections of
// BenchmarkConfigure from JSON, the least work any request does.
func BenchmarkBaselineJSONDecodeSelections(b *testing.B) {
	payload, err := json.Marshal(benchmarkSelections())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		var sel []Selection
		if err := json.Unmarshal(payload, &sel); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decodes/s")
}
