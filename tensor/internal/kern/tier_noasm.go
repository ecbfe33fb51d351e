//go:build !amd64 || purego

package kern

const haveAsm = false
