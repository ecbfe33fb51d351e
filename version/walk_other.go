//go:build !linux

package version

// readFolder lists the folder abs (named rel in the walk): its files, and
// the names of its subfolders.
func readFolder(abs, rel string) ([]walkFile, []string, error) {
	return readFolderPortable(abs, rel)
}
