/* Bare-metal runtime, assembly half: entry, trap entries (direct and
 * vectored, M and S), and the switch into a less-privileged mode
 * (run_lower) and back (rt_resume_m).  See rt.h for the conventions. */
#include "rt_asm.h"

	.option norvc
	.section .text.init
	.globl _start
_start:
	/* a0 = hartid, a1 = FDT address (QEMU virt, -bios none: every hart
	 * starts here at once). */
	bnez	a0, secondary_start
	la	sp, stack_top
	la	t0, m_trap_stack_top
	csrw	mscratch, t0
	la	t0, s_trap_stack_top
	csrw	sscratch, t0
	la	t0, m_trap_entry
	csrw	mtvec, t0
	la	t0, __bss_start
	la	t1, __bss_end
1:	bgeu	t0, t1, 2f
	sd	zero, 0(t0)
	addi	t0, t0, 8
	j	1b
2:	call	rt_main
3:	j	3b

/* Harts other than 0 wait (touching no memory but smp_release, which is in
 * .data, so hart 0's clearing of .bss cannot race with them) until hart 0
 * sets smp_release, then run secondary_main(hartid, fdt) on their own
 * stack, with their own M trap stack in mscratch: hart i (1 <= i <
 * RT_MAX_HARTS) owns [hart_stacks + (i - 1) * 8 KiB, + 8 KiB).  A hart id
 * of RT_MAX_HARTS or more parks at once. */
secondary_start:
	li	t0, RT_MAX_HARTS
	bgeu	a0, t0, 5f
	la	t0, smp_release
4:	ld	t1, 0(t0)
	beqz	t1, 4b
	fence	r, rw
	la	sp, hart_stacks
	slli	t1, a0, 13
	add	sp, sp, t1		/* the top of this hart's 8 KiB */
	csrw	mscratch, sp
	li	t1, 4096
	sub	sp, sp, t1
	call	secondary_main
5:	wfi
	j	5b

/* The default for programs that use one hart: park. */
	.weak	secondary_main
secondary_main:
	wfi
	j	secondary_main

/* ---- traps: frame = 32 x 8 bytes, x[i] at 8*i (x2 = the trapped sp) ---- */
#define FRAME 256

	.macro SAVE_REST
	sd	x3, 24(sp)
	sd	x4, 32(sp)
	sd	x5, 40(sp)
	sd	x6, 48(sp)
	sd	x7, 56(sp)
	sd	x8, 64(sp)
	sd	x9, 72(sp)
	sd	x12, 96(sp)
	sd	x13, 104(sp)
	sd	x14, 112(sp)
	sd	x15, 120(sp)
	sd	x16, 128(sp)
	sd	x17, 136(sp)
	sd	x18, 144(sp)
	sd	x19, 152(sp)
	sd	x20, 160(sp)
	sd	x21, 168(sp)
	sd	x22, 176(sp)
	sd	x23, 184(sp)
	sd	x24, 192(sp)
	sd	x25, 200(sp)
	sd	x26, 208(sp)
	sd	x27, 216(sp)
	sd	x28, 224(sp)
	sd	x29, 232(sp)
	sd	x30, 240(sp)
	sd	x31, 248(sp)
	.endm

	.macro RESTORE_ALL
	ld	x1, 8(sp)
	ld	x3, 24(sp)
	ld	x4, 32(sp)
	ld	x5, 40(sp)
	ld	x6, 48(sp)
	ld	x7, 56(sp)
	ld	x8, 64(sp)
	ld	x9, 72(sp)
	ld	x10, 80(sp)
	ld	x11, 88(sp)
	ld	x12, 96(sp)
	ld	x13, 104(sp)
	ld	x14, 112(sp)
	ld	x15, 120(sp)
	ld	x16, 128(sp)
	ld	x17, 136(sp)
	ld	x18, 144(sp)
	ld	x19, 152(sp)
	ld	x20, 160(sp)
	ld	x21, 168(sp)
	ld	x22, 176(sp)
	ld	x23, 184(sp)
	ld	x24, 192(sp)
	ld	x25, 200(sp)
	ld	x26, 208(sp)
	ld	x27, 216(sp)
	ld	x28, 224(sp)
	ld	x29, 232(sp)
	ld	x30, 240(sp)
	ld	x31, 248(sp)
	ld	x2, 16(sp)
	.endm

	/* Entry for M vector \n (-1: direct mode / exceptions). */
	.macro M_ENTRY n
	csrrw	sp, mscratch, sp
	addi	sp, sp, -FRAME
	sd	x1, 8(sp)
	sd	x10, 80(sp)
	sd	x11, 88(sp)
	li	a1, \n
	j	m_trap_common
	.endm

	.macro S_ENTRY n
	csrrw	sp, sscratch, sp
	addi	sp, sp, -FRAME
	sd	x1, 8(sp)
	sd	x10, 80(sp)
	sd	x11, 88(sp)
	li	a1, \n
	j	s_trap_common
	.endm

	.text
	.balign 4
	.globl m_trap_entry
m_trap_entry:
	M_ENTRY -1

m_trap_common:
	SAVE_REST
	csrr	t0, mscratch		/* the trapped sp */
	sd	t0, 16(sp)
	addi	t0, sp, FRAME
	csrw	mscratch, t0		/* back to the trap stack's top */
	mv	a0, sp
	call	m_trap
	RESTORE_ALL
	mret

	.balign 4
	.globl s_trap_entry
s_trap_entry:
	S_ENTRY -1

s_trap_common:
	SAVE_REST
	csrr	t0, sscratch
	sd	t0, 16(sp)
	addi	t0, sp, FRAME
	csrw	sscratch, t0
	mv	a0, sp
	call	s_trap
	RESTORE_ALL
	sret

/* Vector tables (xtvec.MODE = 1): entry i is jumped to for interrupt
 * cause i, entry 0 for every exception (Privileged ISA 3.1.7, 4.1.2). */
	.balign 256
	.globl m_vector_table
m_vector_table:
	.irp n, 0,1,2,3,4,5,6,7,8,9,10,11
	j	m_vec_\n
	.endr
	.irp n, 0,1,2,3,4,5,6,7,8,9,10,11
m_vec_\n:
	M_ENTRY \n
	.endr

	.balign 256
	.globl s_vector_table
s_vector_table:
	.irp n, 0,1,2,3,4,5,6,7,8,9,10,11
	j	s_vec_\n
	.endr
	.irp n, 0,1,2,3,4,5,6,7,8,9,10,11
s_vec_\n:
	S_ENTRY \n
	.endr

/* long run_lower(long mode, void *fn, long arg): runs fn(arg) in `mode`
 * (PRV_U or PRV_S) with mstatus.MPIE cleared first (so M's MIE is 0 after
 * the mret and afterwards).  fn returning (to lower_return) or any trap
 * handler calling rt_resume_m(v) makes run_lower return v in M mode. */
	.globl run_lower
run_lower:
	la	t0, m_ctx
	sd	ra, 0(t0)
	sd	sp, 8(t0)
	sd	s0, 16(t0)
	sd	s1, 24(t0)
	sd	s2, 32(t0)
	sd	s3, 40(t0)
	sd	s4, 48(t0)
	sd	s5, 56(t0)
	sd	s6, 64(t0)
	sd	s7, 72(t0)
	sd	s8, 80(t0)
	sd	s9, 88(t0)
	sd	s10, 96(t0)
	sd	s11, 104(t0)
	sd	gp, 112(t0)
	sd	tp, 120(t0)
	li	t1, (3 << 11) | (1 << 7)	/* MPP, MPIE */
	csrc	mstatus, t1
	slli	t1, a0, 11
	csrs	mstatus, t1
	csrw	mepc, a1
	mv	a0, a2
	la	ra, lower_return
	mret

	.globl lower_return
lower_return:
	li	a7, RT_MAGIC
	ecall
1:	j	1b

	.globl rt_resume_m
rt_resume_m:
	la	t0, m_ctx
	ld	ra, 0(t0)
	ld	sp, 8(t0)
	ld	s0, 16(t0)
	ld	s1, 24(t0)
	ld	s2, 32(t0)
	ld	s3, 40(t0)
	ld	s4, 48(t0)
	ld	s5, 56(t0)
	ld	s6, 64(t0)
	ld	s7, 72(t0)
	ld	s8, 80(t0)
	ld	s9, 88(t0)
	ld	s10, 96(t0)
	ld	s11, 104(t0)
	ld	gp, 112(t0)
	ld	tp, 120(t0)
	ret

/* Small leaf helpers usable in any mode; the faulting instruction of each
 * is at a global label so that tests can check xepc exactly. */
	.globl mem_ld64, mem_ld64_insn
mem_ld64:
mem_ld64_insn:
	ld	a0, 0(a0)
	ret
	.globl mem_sd64, mem_sd64_insn
mem_sd64:
mem_sd64_insn:
	sd	a1, 0(a0)
	ret
	.globl mem_amoadd64, mem_amoadd64_insn
mem_amoadd64:
mem_amoadd64_insn:
	amoadd.d a0, a1, (a0)
	ret
	.globl mem_lr64, mem_lr64_insn
mem_lr64:
mem_lr64_insn:
	lr.d	a0, (a0)
	ret
	/* long call_at(void *pc, long arg): jumps to pc with a0 = arg. */
	.globl call_at
call_at:
	mv	t0, a0
	mv	a0, a1
	jr	t0

	.section .data
	.balign 8
	.globl smp_release
smp_release:
	.dword 0

	.section .bss
	.balign 4096
hart_stacks:
	.space (RT_MAX_HARTS - 1) * 8192
	.balign 4096
	.space 16384
	.globl stack_top
stack_top:
	.space 4096
	.globl m_trap_stack_top
m_trap_stack_top:
	.space 4096
	.globl s_trap_stack_top
s_trap_stack_top:
	.balign 8
	.globl m_ctx
m_ctx:
	.space 128
