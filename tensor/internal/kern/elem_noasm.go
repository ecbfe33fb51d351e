//go:build !amd64 || purego

package kern

func binaryAsm(op BinOp, dst, a, b []float32, nt bool) (lo, hi int) { return 0, 0 }
func binaryScalarAsm(op BinOp, dst, a []float32, s float32, left, nt bool) (lo, hi int) {
	return 0, 0
}
func unaryAsm(op UnOp, dst, a []float32, nt bool) (lo, hi int)          { return 0, 0 }
func axpyAsm(alpha float32, x, y []float32) int                         { return 0 }
func sumAsm(a []float32, lanes *[8]float32) int                         { return 0 }
func extremeAsm(a []float32, least bool, lanes *[8]float32) (int, bool) { return 0, false }
