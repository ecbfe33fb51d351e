//go:build amd64 && !purego

package kern

// haveAsm reports whether this build has the assembly tiers.
const haveAsm = true
