// Package store is Kiln's content-addressed object store: blobs are cut into
// content-defined chunks (FastCDC), identified by BLAKE3-256 [Digest] values,
// deduplicated, packed, optionally compressed, and kept on a [Backend] (the
// local filesystem, S3-compatible object storage, or memory). Every byte read
// back is verified against its digest.
package store
