package server

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzParseGetOnlineFeatures checks that the fast request parser, when it
// accepts a body, decodes it as encoding/json does.
func FuzzParseGetOnlineFeatures(f *testing.F) {
	for _, s := range []string{
		`{"features":["v:a","v:b"],"entities":{"id":[1,2.5,-3e2,"x",true,false,null]},"full_feature_names":true}`,
		`{"feature_service":"svc","entities":{"id":[1001]},"request_context":{"lat":[1.5]}}`,
		` { "features" : [ ] , "entities" : { } } `,
		`{"features":null,"feature_service":null,"entities":null}`,
		`{"features":["a",],"entities":{}}`,
		`{"features":["a"],}`,
		`{"features":["\u00e9"],"entities":{"id":[01]}}`,
		`{"Features":["a"]}`,
		`{"features":["a"],"features":["b"]}`,
		`{"entities":{"id":[1],"id":[2]}}`,
		`{"entities":{"id":[-]}}`,
		`{"entities":{"id":[1.]}}`,
		`{"features":["é"]} x`,
		"{\"features\":[\"\xff\"]}",
		`{"full_feature_names":nul}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var fast getOnlineFeaturesRequest
		if !parseGetOnlineFeatures(b, &fast) {
			return
		}
		var slow getOnlineFeaturesRequest
		if err := decodeJSON(b, &slow); err != nil {
			t.Fatalf("fast parser accepted %q, encoding/json: %v", b, err)
		}
		if d := cmp.Diff(slow, fast); d != "" {
			t.Fatalf("%q: (-encoding/json +fast):\n%s", b, d)
		}
	})
}
