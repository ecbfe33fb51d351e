//go:build !linux

package version

import "io/fs"

// sysStat leaves ctime and inode zero where they are not read: the stat
// cache then relies on size and mtime.
func sysStat(fi fs.FileInfo, k *statKey) {}
