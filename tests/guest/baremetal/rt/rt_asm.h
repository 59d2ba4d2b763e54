/* Shared by rt.h and start.S. */
#define RT_MAGIC 0x7e57	/* a7 of the ecall that ends run_lower */
#define RT_MAX_HARTS 16	/* harts with a stack (start.S); others park */
