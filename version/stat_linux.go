package version

import (
	"io/fs"
	"syscall"
)

// sysStat fills the ctime and inode of k from fi.
func sysStat(fi fs.FileInfo, k *statKey) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		k.ctime = st.Ctim.Nano()
		k.ino = st.Ino
		k.mtime = st.Mtim.Nano()
	}
}
