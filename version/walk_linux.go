package version

import (
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// readFolder lists the folder abs (named rel in the walk): its files, and
// the names of its subfolders. On Linux each entry costs one fstatat
// relative to the open folder, which also gives its type.
func readFolder(abs, rel string) ([]walkFile, []string, error) {
	f, err := os.Open(abs)
	if err != nil {
		return nil, nil, fmt.Errorf("version: %w", err)
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, nil, fmt.Errorf("version: read folder %s: %w", abs, err)
	}
	raw, err := f.SyscallConn()
	if err != nil {
		return nil, nil, err
	}
	var subdirs []string
	files := make([]walkFile, 0, len(names))
	var ferr error
	cerr := raw.Control(func(fd uintptr) {
		for _, name := range names {
			if strings.HasPrefix(name, tempPrefix) {
				continue
			}
			var st unix.Stat_t
			err := unix.Fstatat(int(fd), name, &st, unix.AT_SYMLINK_NOFOLLOW)
			for err == unix.EINTR {
				err = unix.Fstatat(int(fd), name, &st, unix.AT_SYMLINK_NOFOLLOW)
			}
			if err == unix.ENOENT {
				continue // removed since it was listed
			}
			if err != nil {
				ferr = fmt.Errorf("version: lstat %s/%s: %w", abs, name, err)
				return
			}
			crel := childPath(rel, name)
			switch st.Mode & unix.S_IFMT {
			case unix.S_IFDIR:
				subdirs = append(subdirs, name)
			case unix.S_IFREG:
				if err := ValidPath(crel); err != nil {
					ferr = fmt.Errorf("version: file %s/%s: %w", abs, name, err)
					return
				}
				files = append(files, walkFile{
					rel:  crel,
					abs:  abs + "/" + name,
					mode: normMode(os.FileMode(st.Mode & 0o777)),
					key:  statKey{size: st.Size, mtime: st.Mtim.Nano(), ctime: st.Ctim.Nano(), ino: st.Ino},
				})
			default:
				wf, err := fileOf(abs+"/"+name, crel, unixType(st.Mode))
				if err != nil {
					ferr = err
					return
				}
				files = append(files, wf)
			}
		}
	})
	if err := cerr; err != nil {
		return nil, nil, err
	}
	if ferr != nil {
		return nil, nil, ferr
	}
	return files, subdirs, nil
}

// unixType is the fs type bits of a stat mode.
func unixType(m uint32) os.FileMode {
	switch m & unix.S_IFMT {
	case unix.S_IFLNK:
		return os.ModeSymlink
	case unix.S_IFIFO:
		return os.ModeNamedPipe
	case unix.S_IFSOCK:
		return os.ModeSocket
	case unix.S_IFCHR:
		return os.ModeDevice | os.ModeCharDevice
	case unix.S_IFBLK:
		return os.ModeDevice
	}
	return os.ModeIrregular
}
