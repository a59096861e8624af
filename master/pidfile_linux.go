//go:build linux

package master

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// WritePID writes pid to path, as nginx: the decimal pid and a newline.
// It writes a temporary file beside path and renames it over, so that a
// reader (tern -s, a supervisor, an upgrade in progress) never sees a
// half-written file.
func WritePID(path string, pid int) error {
	return writeFileAtomic(path, []byte(strconv.Itoa(pid)+"\n"))
}

// writeFileAtomic writes a temporary file beside path and renames it
// over path.
func writeFileAtomic(path string, content []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(content)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}

// ReadPID reads a pid file.
func ReadPID(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(string(bytes.TrimSpace(b)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("invalid pid file %s: %q", path, b)
	}
	return pid, nil
}

// removePID removes path if it still names pid: a file that another
// master (an upgrade's new one) wrote since is not ours to remove.
func removePID(path string, pid int) {
	if path == "" {
		return
	}
	if got, err := ReadPID(path); err == nil && got == pid {
		os.Remove(path)
	}
}
