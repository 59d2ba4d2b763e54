/* Process entry for the freestanding guest programs.
 * The Linux/RISC-V ELF ABI: sp -> argc, argv[0..argc], NULL, envp..., NULL, auxv.
 * Calls main(argc, argv, envp), flushes the output buffer, then exit_group(ret). */
	.section .text._start
	.globl _start
	.type _start, @function
_start:
	.option push
	.option norelax
	la	gp, __global_pointer$
	.option pop
	ld	a0, 0(sp)		/* argc */
	addi	a1, sp, 8		/* argv */
	slli	a2, a0, 3
	add	a2, a2, a1
	addi	a2, a2, 8		/* envp = argv + argc + 1 */
	andi	sp, sp, -16
	call	main
	call	rt_exit
	.size _start, . - _start
