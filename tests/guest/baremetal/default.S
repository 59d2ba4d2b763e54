/*
 * The default guest of `cranemu system`: a freestanding M-mode program for
 * the riscv64 virt machine, entered directly at 0x80000000 (`-bios none`).
 * Hart 0 prints a greeting on the 16550 UART at 0x10000000, then powers
 * the machine off through the SiFive test device at 0x100000 (PASS, exit
 * status 0). Other harts park in wfi.
 */

#define UART0     0x10000000
#define UART_THR  0         /* transmit holding register (write) */
#define UART_LSR  5         /* line status register */
#define LSR_THRE  0x20      /* THR empty: the next byte may be written */
#define TEST      0x100000
#define TEST_PASS 0x5555

        .section .text.start, "ax"
        .globl  _start
_start:
        csrr    t0, mhartid
        bnez    t0, park

        li      a0, UART0
        lla     a1, greeting
1:      lbu     t1, 0(a1)
        beqz    t1, poweroff
2:      lbu     t2, UART_LSR(a0)
        andi    t2, t2, LSR_THRE
        beqz    t2, 2b
        sb      t1, UART_THR(a0)
        addi    a1, a1, 1
        j       1b

poweroff:
        li      t0, TEST
        li      t1, TEST_PASS
        sw      t1, 0(t0)
park:
        wfi
        j       park

        .section .rodata
greeting:
        .asciz  "cranemu: hello from the virt machine (M mode, hart 0)\n"
