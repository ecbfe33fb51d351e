package story

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"

	"github.com/kilnml/kiln/features"
	"github.com/kilnml/kiln/features/online"
	"github.com/kilnml/kiln/monitor"
	"github.com/kilnml/kiln/train"
	"github.com/kilnml/kiln/version"
)

// ModelName is the registry name of the flight delay model; the story
// aliases the version it registers "champion".
const ModelName = "flight_delay"

// Request is one flight to score.
type Request struct {
	Origin      string    `json:"origin"`
	Destination string    `json:"destination"`
	Distance    float64   `json:"distance"`
	Time        time.Time `json:"time"` // scheduled departure
}

// Prediction is a model's answer for one Request.
type Prediction struct {
	Model       string             `json:"model"`       // "flight_delay/3"
	Probability float64            `json:"probability"` // P(delay > 15 minutes)
	Inputs      map[string]float64 `json:"inputs"`      // the model's raw inputs (online features + request fields), before transforms
}

// bundleFormat names the layout of a registered flight_delay artifact.
const bundleFormat = "kiln-story-model/1"

// bundle is the registered artifact of a flight_delay version: one JSON
// document holding everything a service needs to score a request exactly as
// the model was trained, so that nothing else must be found at serving time.
type bundle struct {
	Format string `json:"format"`
	// View and Features name the online feature view and the features read
	// for each airport; Inputs are the model's raw inputs in order.
	View     string   `json:"view"`
	Features []string `json:"features"`
	Inputs   []string `json:"inputs"`
	// Transformer is the fitted ColumnTransformer (its own JSON document).
	Transformer json.RawMessage `json:"transformer"`
	// MLP is the network as train.MLP.WriteTo writes it, and Profile the
	// reference profile of the training inputs (monitor.Profile's binary
	// form, which keeps the sketches).
	MLP     []byte `json:"mlp"`
	Profile []byte `json:"profile"`
}

// Model is one registered version, ready to serve: weights, fitted
// transforms, feature references and the reference profile.
type Model struct {
	Version version.ModelVersion

	name     string // "flight_delay/3"
	view     string
	features []string
	inputs   []string
	ct       *features.ColumnTransformer
	mlp      *train.MLP
	profile  *monitor.Profile
}

// LoadModel loads spec ("flight_delay@champion", "flight_delay/2") and
// everything it needs from repo: the artifact registered for the version is
// a bundle holding the network, the fitted transforms, the feature
// references and the reference profile.
func LoadModel(ctx context.Context, repo *version.Repository, spec string) (*Model, error) {
	mv, err := repo.ResolveModel(ctx, spec)
	if err != nil {
		return nil, err
	}
	rc, err := repo.OpenModel(ctx, mv.Name+"/"+strconv.Itoa(mv.Version))
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return nil, err
	}
	m, err := decodeBundle(data)
	if err != nil {
		return nil, fmt.Errorf("story: model %s/%d: %w", mv.Name, mv.Version, err)
	}
	m.Version = mv
	m.name = fmt.Sprintf("%s/%d", mv.Name, mv.Version)
	return m, nil
}

func decodeBundle(data []byte) (*Model, error) {
	var b bundle
	if err := json.Unmarshal(data, &b); err != nil {
		return nil, err
	}
	if b.Format != bundleFormat {
		return nil, fmt.Errorf("unknown artifact format %q", b.Format)
	}
	ct, err := features.Load(b.Transformer)
	if err != nil {
		return nil, err
	}
	mlp, err := train.ReadMLP(bytes.NewReader(b.MLP))
	if err != nil {
		return nil, err
	}
	prof, err := monitor.ReadProfile(bytes.NewReader(b.Profile))
	if err != nil {
		return nil, err
	}
	return &Model{view: b.View, features: b.Features, inputs: b.Inputs, ct: ct, mlp: mlp, profile: prof}, nil
}

// Predict reads the request's online features from st, applies the fitted
// transforms and scores it. Safe for concurrent use.
func (m *Model) Predict(ctx context.Context, st online.Store, r Request) (Prediction, error) {
	if r.Origin == "" || r.Destination == "" {
		return Prediction{}, fmt.Errorf("story: a request needs an origin and a destination")
	}
	if math.IsNaN(r.Distance) || math.IsInf(r.Distance, 0) || r.Distance < 0 {
		return Prediction{}, fmt.Errorf("story: bad distance %v", r.Distance)
	}
	// One online read for both airports: the latest traffic figures of the
	// origin and of the destination.
	keys := [][]byte{online.EncodeKey(online.String(r.Origin)), online.EncodeKey(online.String(r.Destination))}
	res, err := st.Read(ctx, m.view, m.features, keys, 0, time.Now())
	if err != nil {
		return Prediction{}, err
	}
	raw := make([]float64, 0, len(m.inputs))
	raw = appendAirport(raw, res[0])
	raw = appendAirport(raw, res[1])
	raw = append(raw, r.Distance, float64(r.Time.UTC().Hour()))
	if len(raw) != len(m.inputs) {
		return Prediction{}, fmt.Errorf("story: model %s wants %d inputs, the request gives %d", m.name, len(m.inputs), len(raw))
	}
	p, err := m.score(raw)
	if err != nil {
		return Prediction{}, err
	}
	in := make(map[string]float64, len(raw))
	for i, name := range m.inputs {
		in[name] = raw[i]
	}
	return Prediction{Model: m.name, Probability: p, Inputs: in}, nil
}

// appendAirport appends one airport's features in the model's order: a
// value not found online (an airport without recent departures) counts as
// zero, as it did in the training set.
func appendAirport(dst []float64, res []online.Result) []float64 {
	for _, r := range res {
		x := 0.0
		if r.Status == online.Present {
			if f, ok := r.Value.AsFloat(); ok {
				x = f
			} else if i, ok := r.Value.AsInt(); ok {
				x = float64(i)
			}
		}
		dst = append(dst, x)
	}
	return dst
}

// score applies the fitted transforms to raw inputs (in m.inputs order)
// and returns P(delayed).
func (m *Model) score(raw []float64) (float64, error) {
	vals := make([]features.Value, len(raw))
	for i, x := range raw {
		vals[i] = features.Float(x)
	}
	out := make([]float64, len(m.ct.Outputs()))
	if err := m.ct.ApplyRowInto(vals, out); err != nil {
		return 0, err
	}
	x := make([]float32, len(out))
	for i, v := range out {
		x[i] = float32(v)
	}
	probs, err := m.mlp.PredictRow(x, nil)
	if err != nil {
		return 0, err
	}
	return float64(probs[1]), nil
}

// InputNames are the keys of Prediction.Inputs, in the model's order.
func (m *Model) InputNames() []string { return append([]string(nil), m.inputs...) }

// Reference is the profile of the training inputs, for a drift monitor
// over InputNames.
func (m *Model) Reference() *monitor.Profile { return m.profile }
