/* Hand-written RVC (compressed) instructions, each spelled as an explicit
 * c.* mnemonic so the assembler emits exactly that 16-bit encoding.  Every
 * function follows the C calling convention (args a0..a5, result a0) and is
 * called from compressed.c, which prints the results. */
	.option rvc
	.option norelax
	.text

	.macro FUNC name
	.globl \name
	.type \name, @function
	.p2align 1
\name:
	.endm

FUNC c_addi_m17		/* a0 - 17 */
	c.addi	a0, -17
	c.jr	ra
FUNC c_addi_31
	c.addi	a0, 31
	c.jr	ra
FUNC c_addiw_1		/* sext32(a0 + 1) */
	c.addiw	a0, 1
	c.jr	ra
FUNC c_addiw_0		/* sext.w */
	c.addiw	a0, 0
	c.jr	ra
FUNC c_li_m32
	c.li	a0, -32
	c.jr	ra
FUNC c_li_31
	c.li	a0, 31
	c.jr	ra
FUNC c_lui_1
	c.lui	a0, 1
	c.jr	ra
FUNC c_lui_1f
	c.lui	a0, 0x1f
	c.jr	ra
FUNC c_lui_neg		/* nzimm = -32 << 12 */
	c.lui	a0, 0xfffe0
	c.jr	ra
FUNC c_lui_m1		/* nzimm = -1 << 12 */
	c.lui	a0, 0xfffff
	c.jr	ra
FUNC c_slli_1
	c.slli	a0, 1
	c.jr	ra
FUNC c_slli_63
	c.slli	a0, 63
	c.jr	ra
FUNC c_slli_32
	c.slli	a0, 32
	c.jr	ra
FUNC c_srli_1
	c.srli	a0, 1
	c.jr	ra
FUNC c_srli_63
	c.srli	a0, 63
	c.jr	ra
FUNC c_srli_32
	c.srli	a0, 32
	c.jr	ra
FUNC c_srai_1
	c.srai	a0, 1
	c.jr	ra
FUNC c_srai_63
	c.srai	a0, 63
	c.jr	ra
FUNC c_srai_32
	c.srai	a0, 32
	c.jr	ra
FUNC c_andi_m1
	c.andi	a0, -1
	c.jr	ra
FUNC c_andi_m32
	c.andi	a0, -32
	c.jr	ra
FUNC c_andi_31
	c.andi	a0, 31
	c.jr	ra
FUNC c_sub		/* a0 - a1 */
	c.sub	a0, a1
	c.jr	ra
FUNC c_xor
	c.xor	a0, a1
	c.jr	ra
FUNC c_or
	c.or	a0, a1
	c.jr	ra
FUNC c_and
	c.and	a0, a1
	c.jr	ra
FUNC c_subw
	c.subw	a0, a1
	c.jr	ra
FUNC c_addw
	c.addw	a0, a1
	c.jr	ra
FUNC c_mv		/* returns a1 */
	c.mv	a0, a1
	c.jr	ra
FUNC c_add		/* a0 + a1, with the rd/rs1 not in the x8..x15 range */
	c.mv	t0, a0
	c.add	t0, a1
	c.mv	a0, t0
	c.jr	ra

FUNC c_addi16sp		/* 64: sp moved down and back up by c.addi16sp */
	c.mv	t0, sp
	c.addi16sp sp, -64
	sub	a0, t0, sp
	c.addi16sp sp, 64
	c.jr	ra
FUNC c_addi16sp_big	/* 496 */
	c.mv	t0, sp
	c.addi16sp sp, -496
	sub	a0, t0, sp
	c.addi16sp sp, 496
	c.jr	ra
FUNC c_addi4spn		/* 1020 (a0 = sp + 1020, minus sp) */
	c.addi4spn a0, sp, 1020
	sub	a0, a0, sp
	c.jr	ra
FUNC c_addi4spn_4
	c.addi4spn a1, sp, 4
	sub	a0, a1, sp
	c.jr	ra

/* Loads from the buffer at a0. */
FUNC c_lw_0
	c.lw	a0, 0(a0)
	c.jr	ra
FUNC c_lw_124
	c.lw	a0, 124(a0)
	c.jr	ra
FUNC c_ld_8
	c.ld	a0, 8(a0)
	c.jr	ra
FUNC c_ld_248
	c.ld	a0, 248(a0)
	c.jr	ra
/* Stores a1 into the buffer at a0. */
FUNC c_sw_4
	c.sw	a1, 4(a0)
	c.jr	ra
FUNC c_sw_124
	c.sw	a1, 124(a0)
	c.jr	ra
FUNC c_sd_16
	c.sd	a1, 16(a0)
	c.jr	ra
FUNC c_sd_248
	c.sd	a1, 248(a0)
	c.jr	ra

/* Stack-pointer relative: stores a0 and a1 with c.sdsp/c.swsp, loads them
 * back with c.ldsp/c.lwsp; returns a1 + 2*sext32(a0) + 2*sext32(a1). */
FUNC c_sp_mem
	c.addi16sp sp, -512
	c.sdsp	a0, 0(sp)
	c.sdsp	a1, 504(sp)
	c.swsp	a1, 8(sp)
	c.swsp	a0, 252(sp)
	c.ldsp	t0, 504(sp)	/* a1 */
	c.lwsp	t1, 0(sp)	/* sext(low32(a0)) */
	c.lwsp	t2, 252(sp)	/* sext(low32(a0)) */
	c.add	t1, t2
	c.lwsp	a3, 8(sp)	/* sext(low32(a1)) */
	c.slli	a3, 1
	c.add	t0, t1
	c.add	t0, a3
	c.mv	a0, t0
	c.addi16sp sp, 496
	c.addi	sp, 16
	c.jr	ra

/* Floating point: c.fld/c.fsd through a0, c.fldsp/c.fsdsp through sp.
 * fp_copy(dst=a0, src=a1): dst[1] = src[0]; dst[31] = src[2] via the stack. */
FUNC c_fp_copy
	c.fld	fa2, 0(a1)
	c.fsd	fa2, 8(a0)
	c.fld	fa3, 16(a1)
	c.addi16sp sp, -512
	c.fsdsp	fa3, 496(sp)
	c.fldsp	fa4, 496(sp)
	c.fsdsp	fa4, 0(sp)
	c.fldsp	ft0, 0(sp)
	c.addi16sp sp, 496
	c.addi	sp, 16
	c.fsd	fa4, 248(a0)
	fadd.d	fa0, fa2, ft0
	c.jr	ra

/* Control flow.  c_j(a0): a0 + 1 (c.j skips an instruction).  */
FUNC c_j
	c.j	1f
	c.addi	a0, 10
1:	c.addi	a0, 1
	c.jr	ra
/* c_beqz(a0): 1 if a0 == 0 else 2 */
FUNC c_beqz
	c.beqz	a0, 1f
	c.li	a0, 2
	c.jr	ra
1:	c.li	a0, 1
	c.jr	ra
/* c_bnez(a0): 1 if a0 != 0 else 2 */
FUNC c_bnez
	c.bnez	a0, 1f
	c.li	a0, 2
	c.jr	ra
1:	c.li	a0, 1
	c.jr	ra
/* c_jalr(fn=a0, x=a1): fn(x) + 1000, calling through c.jalr */
FUNC c_jalr
	c.addi	sp, -16
	c.sdsp	ra, 8(sp)
	c.mv	t1, a0
	c.mv	a0, a1
	c.jalr	t1
	addi	a0, a0, 1000
	c.ldsp	ra, 8(sp)
	c.addi	sp, 16
	c.jr	ra
/* c_jr_table(i=a0): jumps through a computed address, returns 2 * (10 + i) */
FUNC c_jr_table
	lla	t0, 1f
	c.slli	a0, 2		/* each entry is 4 bytes: two compressed insns */
	c.add	t0, a0
	c.jr	t0
1:	c.li	a0, 10
	c.j	2f
	c.li	a0, 11
	c.j	2f
	c.li	a0, 12
	c.j	2f
	c.li	a0, 13
	c.j	2f
2:	c.slli	a0, 1
	c.nop
	c.jr	ra
