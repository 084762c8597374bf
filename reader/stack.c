/*
 * Threads' C stacks: where each thread's stack pointer is (NT_PRSTATUS's
 * pr_reg in a core, ptrace's registers live), the end of the mapping it is
 * in (the stack grows down from there), and the registers that may hold
 * pointers the thread's C code keeps in no memory.
 */
#include <string.h>

#include "reader.h"

/* In struct user_regs_struct (x86-64). */
#define REGS_RSP 152
#define REGS_FS_BASE 168

bool pyhs_target_thread_stack(const struct pyhs_target *t, size_t i,
			      struct pyhs_thread_stack *ret)
{
	struct pyhs_thread_registers regs;
	if (!pyhs_target_thread_registers(t, i, &regs) || !regs.regs)
		return false;
	struct pyhs_thread_stack s = { .tid = pyhs_target_thread_tid(t, i) };
	memcpy(&s.sp, (const char *)regs.regs + REGS_RSP, 8);
	memcpy(&s.fs_base, (const char *)regs.regs + REGS_FS_BASE, 8);
	memcpy(s.general, regs.regs, sizeof(s.general));
	size_t n = pyhs_target_nmappings(t);
	for (size_t k = 0; k < n; k++) {
		struct pyhs_target_mapping m;
		if (pyhs_target_mapping(t, k, &m) && s.sp >= m.start && s.sp < m.end) {
			s.end = m.end;
			break;
		}
	}
	if (!s.end)
		return false;
	*ret = s;
	return true;
}
