package kern

import (
	"fmt"
	"sync"
	"unsafe"
)

// Blocking of the packed GEMM. The micro-kernel computes an MR×NR tile of C
// from a packed MR×kc strip of A and a packed kc×NR strip of B; an MC×KC
// block of A is packed per tile (it stays in L2), a KC×NC panel of B per k
// step (it stays in L3), and each NR-wide strip of it is reused from L1 by
// all MR strips of the A block.
const (
	gemmMR = 6
	gemmNR = 16
	gemmMC = 96   // multiple of gemmMR
	gemmKC = 256  // k panel
	gemmNC = 3072 // multiple of gemmNR

	// gemmSmall is the largest m·n·k computed by the plain loop, without
	// packing.
	gemmSmall = 24 * 24 * 24
	// gemmSplitN is the widest column range of a tile (half that when C has
	// few MC-row blocks), so that every worker gets tiles.
	gemmSplitN = 512
	// gemmPackN is the width of a B-packing tile (a multiple of gemmNR).
	gemmPackN = 512
	// gemmPackMax bounds the packed B buffer, in float32s (32 MiB).
	gemmPackMax = 8 << 20
	// gemmBatchPar is the m·n·k below which SgemmBatched runs whole matrices
	// as tiles instead of splitting each matrix.
	gemmBatchPar = 128 * 128 * 128
)

// checkGemmArgs panics with a readable message when a slice is too short
// for its matrix; the assembly kernel must never be handed one.
func checkGemmArgs(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int,
	c []float32, ldc int, ep Epilogue) {
	need := func(name string, s []float32, rows, cols, ld int) {
		if rows <= 0 || cols <= 0 {
			return
		}
		if ld < cols || len(s) < (rows-1)*ld+cols {
			panic(fmt.Sprintf("kern: Sgemm %s: %d×%d with stride %d does not fit %d elements",
				name, rows, cols, ld, len(s)))
		}
	}
	need("C", c, m, n, ldc)
	if ep.Bias != nil && len(ep.Bias) < n {
		panic(fmt.Sprintf("kern: Sgemm bias has %d values for %d columns", len(ep.Bias), n))
	}
	if k <= 0 {
		return
	}
	if transA {
		need("A", a, k, m, lda)
	} else {
		need("A", a, m, k, lda)
	}
	if transB {
		need("B", b, n, k, ldb)
	} else {
		need("B", b, k, n, ldb)
	}
}

// sgemmScale is Sgemm without a product (k or alpha 0): C = act(beta·C +
// bias).
func sgemmScale(m, n int, beta float32, c []float32, ldc int, ep Epilogue) {
	for i := range m {
		row := c[i*ldc : i*ldc+n]
		for j := range row {
			var v float32
			if beta != 0 {
				v = beta * row[j]
			}
			if ep.Bias != nil {
				v += ep.Bias[j]
			}
			row[j] = ActScalar(ep.Act, v)
		}
	}
}

// sgemmSmall is the unpacked loop for small problems: each element of C is
// one dot product summed over k in order.
func sgemmSmall(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int,
	b []float32, ldb int, beta float32, c []float32, ldc int, ep Epilogue) {
	sa, sl := lda, 1 // A[i][l] = a[i*sa+l*sl]
	if transA {
		sa, sl = 1, lda
	}
	tb, tl := 1, ldb // B[l][j] = b[j*tb+l*tl]
	if transB {
		tb, tl = ldb, 1
	}
	for i := range m {
		for j := range n {
			var s float32
			ai, bj := i*sa, j*tb
			for l := range k {
				s += a[ai+l*sl] * b[bj+l*tl]
			}
			v := alpha * s
			if beta != 0 {
				v += beta * c[i*ldc+j]
			}
			if ep.Bias != nil {
				v += ep.Bias[j]
			}
			c[i*ldc+j] = ActScalar(ep.Act, v)
		}
	}
}

// sgemmBlocked is the packed GEMM. For each NC-wide column panel and each
// KC-deep k panel in order, it packs the B panel, then runs tiles of C (an
// MC-row block × a column range) over p; each tile packs its rows of A
// (times alpha) and calls the micro-kernel on every MR×NR tile. The first k
// panel scales C by beta (or overwrites it when beta is 0); later panels
// add; the last applies bias and activation. Every element of C is thus
// ((beta·c + P0) + P1) + ... with each Pi summed by the micro-kernel in k
// order, whichever worker runs which tile.
func sgemmBlocked(p *Pool, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int,
	b []float32, ldb int, beta float32, c []float32, ldc int, ep Epilogue) {
	g := gemmJobs.Get().(*gemmJob)
	defer func() {
		*g = gemmJob{tile: g.tile, pack: g.pack}
		gemmJobs.Put(g)
	}()
	g.transA, g.m, g.k, g.alpha, g.a, g.lda = transA, m, k, alpha, a, lda
	g.transB, g.b, g.ldb = transB, b, ldb
	g.beta, g.c, g.ldc, g.ep = beta, c, ldc, ep
	g.asm = haveAsm && Current() >= TierAVX2
	// The packed B holds every k panel of an NC-wide column panel, so that
	// a tile runs through all of k without waiting for the other tiles;
	// NC shrinks for very deep products to bound the buffer.
	ncStep := min(gemmNC, max(gemmNR, gemmPackMax/roundUp(k, gemmKC)/gemmNR*gemmNR))
	ncMax := min(ncStep, roundUp(n, gemmNR))
	bbuf := getPackBuf(roundUp(k, gemmKC) * ncMax)
	defer putPackBuf(bbuf)
	g.bp = *bbuf
	g.ncMax = ncMax
	mBlocks := (m + gemmMC - 1) / gemmMC
	kPanels := (k + gemmKC - 1) / gemmKC
	for g.jc = 0; g.jc < n; g.jc += ncStep {
		g.nc = min(ncStep, n-g.jc)
		g.jw = min(roundUp(g.nc, gemmNR), gemmSplitN)
		if mBlocks < 4 {
			g.jw = min(g.jw, gemmSplitN/2)
		}
		g.nChunks = (g.nc + g.jw - 1) / g.jw
		g.packChunks = (g.nc + gemmPackN - 1) / gemmPackN
		p.Run(kPanels*g.packChunks, g.pack)
		p.Run(mBlocks*g.nChunks, g.tile)
	}
}

// gemmJob is the state of one sgemmBlocked call shared by its tiles. It is
// pooled, with tile bound once to its method, so that a call allocates
// nothing in steady state.
type gemmJob struct {
	transA      bool
	m, k        int
	alpha, beta float32
	a, c, bp    []float32
	lda, ldc    int
	ep          Epilogue
	asm         bool
	jc, nc, jw  int
	nChunks     int
	packChunks  int
	ncMax       int
	transB      bool
	b           []float32
	ldb         int
	tile, pack  func(t int)
}

var gemmJobs = sync.Pool{New: func() any {
	g := new(gemmJob)
	g.tile, g.pack = g.run, g.packPanel
	return g
}}

// packPanel packs pack tile t: columns [jc+j0, jc+j0+gemmPackN) of one
// KC-deep k panel of B, into that panel's part of bp.
func (g *gemmJob) packPanel(t int) {
	pc := (t / g.packChunks) * gemmKC
	kc := min(gemmKC, g.k-pc)
	j0 := (t % g.packChunks) * gemmPackN
	w := min(gemmPackN, g.nc-j0)
	packB(g.bp[pc*g.ncMax+j0*kc:], g.b, g.ldb, g.transB, pc, kc, g.jc+j0, w)
}

// run computes tile t of the current panels: rows [ic, ic+mc) of C, an
// MC-row block, and columns [jc+j0, jc+j1) of them.
func (g *gemmJob) run(t int) {
	ic := (t / g.nChunks) * gemmMC
	mc := min(gemmMC, g.m-ic)
	j0 := (t % g.nChunks) * g.jw
	j1 := min(g.nc, j0+g.jw)
	jc, c, ldc, beta := g.jc, g.c, g.ldc, g.beta
	abuf := getPackBuf(gemmMC * gemmKC)
	ap := *abuf
	if beta != 0 && beta != 1 {
		for i := ic; i < ic+mc; i++ {
			row := c[i*ldc+jc+j0 : i*ldc+jc+j1]
			for j := range row {
				row[j] *= beta
			}
		}
	}
	var tmp [gemmMR * gemmNR]float32
	for pc := 0; pc < g.k; pc += gemmKC {
		kc := min(gemmKC, g.k-pc)
		packA(ap, g.a, g.lda, g.transA, g.alpha, ic, mc, pc, kc)
		accum := pc > 0 || beta != 0
		bp := g.bp[pc*g.ncMax:]
		for jr := j0; jr < j1; jr += gemmNR {
			nr := min(gemmNR, j1-jr)
			bs := bp[jr*kc:]
			for ir := 0; ir < mc; ir += gemmMR {
				mr := min(gemmMR, mc-ir)
				as := ap[ir*kc:]
				co := (ic+ir)*ldc + jc + jr
				if mr == gemmMR && nr == gemmNR {
					microKernel(g.asm, kc, as, bs, c[co:], ldc, accum)
					continue
				}
				microKernel(g.asm, kc, as, bs, tmp[:], gemmNR, false)
				for r := range mr {
					row := c[co+r*ldc : co+r*ldc+nr]
					src := tmp[r*gemmNR : r*gemmNR+nr]
					if accum {
						for j, v := range src {
							row[j] += v
						}
					} else {
						copy(row, src)
					}
				}
			}
		}
	}
	putPackBuf(abuf)
	ep := g.ep
	if ep.Bias == nil && ep.Act == ActNone {
		return
	}
	for i := ic; i < ic+mc; i++ {
		row := c[i*ldc+jc+j0 : i*ldc+jc+j1]
		if ep.Bias != nil {
			bias := ep.Bias[jc+j0 : jc+j1]
			for j := range row {
				row[j] += bias[j]
			}
		}
		if ep.Act != ActNone {
			// The vector kernels of the unary ops; the row segment is
			// fixed by the tile, so the result is too.
			Unary(actOp(ep.Act), row, row, 0)
		}
	}
}

// microKernel computes one MR×NR tile with the tier's kernel.
func microKernel(asm bool, kc int, a, b, c []float32, ldc int, accum bool) {
	if asm {
		sgemmKernAVX2(kc, &a[0], &b[0], &c[0], ldc, accum)
		return
	}
	sgemmKernGo(kc, a, b, c, ldc, accum)
}

// sgemmKernGo is the portable micro-kernel, the same computation as
// sgemmKernAVX2 with separate multiplies and adds.
func sgemmKernGo(kc int, a, b, c []float32, ldc int, accum bool) {
	var acc [gemmMR * gemmNR]float32
	a = a[:kc*gemmMR]
	b = b[:kc*gemmNR]
	for l := range kc {
		av := a[l*gemmMR : l*gemmMR+gemmMR : l*gemmMR+gemmMR]
		bv := (*[gemmNR]float32)(b[l*gemmNR:])
		for r, x := range av {
			row := (*[gemmNR]float32)(acc[r*gemmNR:])
			row[0] += x * bv[0]
			row[1] += x * bv[1]
			row[2] += x * bv[2]
			row[3] += x * bv[3]
			row[4] += x * bv[4]
			row[5] += x * bv[5]
			row[6] += x * bv[6]
			row[7] += x * bv[7]
			row[8] += x * bv[8]
			row[9] += x * bv[9]
			row[10] += x * bv[10]
			row[11] += x * bv[11]
			row[12] += x * bv[12]
			row[13] += x * bv[13]
			row[14] += x * bv[14]
			row[15] += x * bv[15]
		}
	}
	for r := range gemmMR {
		dst := c[r*ldc : r*ldc+gemmNR]
		src := acc[r*gemmNR : r*gemmNR+gemmNR]
		if accum {
			for j, v := range src {
				dst[j] += v
			}
		} else {
			copy(dst, src)
		}
	}
}

// packA packs rows [ic, ic+mc) and columns [pc, pc+kc) of op(A), times
// alpha, into dst as MR-row strips, each stored column by column (MR values
// per k), the last strip padded with zeros.
func packA(dst, a []float32, lda int, transA bool, alpha float32, ic, mc, pc, kc int) {
	for s := 0; s < mc; s += gemmMR {
		h := min(gemmMR, mc-s)
		d := dst[s*kc : s*kc+gemmMR*kc]
		if h < gemmMR {
			clear(d)
		}
		if !transA {
			for r := range h {
				src := a[(ic+s+r)*lda+pc:][:kc]
				for l, v := range src {
					d[l*gemmMR+r] = alpha * v
				}
			}
			continue
		}
		for l := range kc {
			src := a[(pc+l)*lda+ic+s:][:h]
			col := d[l*gemmMR : l*gemmMR+h]
			for r, v := range src {
				col[r] = alpha * v
			}
		}
	}
}

// packB packs rows [pc, pc+kc) and columns [jc, jc+nc) of op(B) into dst as
// NR-column strips, each stored row by row (NR values per k), the last
// strip padded with zeros.
func packB(dst, b []float32, ldb int, transB bool, pc, kc, jc, nc int) {
	for s := 0; s < nc; s += gemmNR {
		w := min(gemmNR, nc-s)
		d := dst[s*kc : s*kc+gemmNR*kc]
		if !transB {
			for l := range kc {
				row := d[l*gemmNR : l*gemmNR+gemmNR]
				copy(row, b[(pc+l)*ldb+jc+s:][:w])
				clear(row[w:])
			}
			continue
		}
		if w < gemmNR {
			clear(d)
		}
		for j := range w {
			src := b[(jc+s+j)*ldb+pc:][:kc]
			for l, v := range src {
				d[l*gemmNR+j] = v
			}
		}
	}
}

func roundUp(x, m int) int { return (x + m - 1) / m * m }

// packPool holds packing buffers, 64-byte aligned, reused across calls.
var packPool sync.Pool

// getPackBuf returns a pooled buffer of at least n float32s, its first
// element 64-byte aligned.
func getPackBuf(n int) *[]float32 {
	if v, ok := packPool.Get().(*[]float32); ok && cap(*v) >= n {
		*v = (*v)[:n]
		return v
	}
	raw := make([]float32, n+16)
	off := int(uintptr(unsafe.Pointer(&raw[0]))%64) / 4
	if off != 0 {
		off = 16 - off
	}
	s := raw[off : off+n : off+n]
	return &s
}

// putPackBuf returns a buffer to the pool.
func putPackBuf(v *[]float32) { packPool.Put(v) }
