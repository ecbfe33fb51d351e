package miniotest

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestStart(t *testing.T) {
	endpoint, accessKey, secretKey := Start(t)
	if !strings.HasPrefix(endpoint, "127.0.0.1:") || accessKey == "" || len(secretKey) < 8 {
		t.Fatalf("Start() = %q, %q, %q", endpoint, accessKey, secretKey)
	}
	// The server answers S3 requests: an anonymous one is refused with 403
	// (an unready server answers 503).
	resp, err := http.Get("http://" + endpoint + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("anonymous GET /: status %d, want 403", resp.StatusCode)
	}
}

// TestStartFailure: a server that exits at once is reported with its output.
func TestStartFailure(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "minio")
	script := "#!/bin/sh\necho 'fake minio: cannot start' >&2\nexit 3\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := start(bin, t.TempDir(), "user", "password1")
	if err == nil {
		t.Fatal("start of a server that exits: no error")
	}
	for _, want := range []string{"exited before it was ready", "exit status 3", "fake minio: cannot start"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}
