/* The batch text view: one block per interval, like `top -b`. */
#include <time.h>
#include "report.h"

void report_text(FILE *out, const struct report *r, int full_stacks)
{
	char total[32], growth[32], when[32], bytes[32], label[512];
	time_t secs = (time_t)r->time;
	struct tm tm;

	localtime_r(&secs, &tm);
	strftime(when, sizeof(when), "%H:%M:%S", &tm);
	fprintf(out, "leaktop %s  pid %d (%s)  elapsed %.1fs  interval %.2gs\n", when, r->pid,
		r->comm ? r->comm : "?", r->elapsed_s, r->interval_s);
	fprintf(out, "outstanding %s in %lld allocations, growing %s; %zu stacks; lost events %llu\n",
		format_bytes(total, sizeof(total), (double)r->bytes), (long long)r->allocs,
		format_rate(growth, sizeof(growth), r->growth), r->nstacks,
		(unsigned long long)r->lost_events);
	/* Scaled figures say so. */
	if (r->sample_bytes)
		fprintf(out, "estimates: one allocation sampled per %llu bytes on average\n",
			(unsigned long long)r->sample_bytes);
	if (r->duty_cycle > 0 && r->duty_cycle < 1)
		fprintf(out, "estimates: allocation probes on %.0f%% of the time, figures scaled up\n",
			100 * r->duty_cycle);
	if (r->group) { /* each traced process's own totals */
		fprintf(out, "%zu process%s:", r->nprocesses, r->nprocesses == 1 ? "" : "es");
		for (size_t i = 0; i < r->nprocesses; i++)
			fprintf(out, " %d (%s) %s%s", r->processes[i].pid, r->processes[i].comm ? r->processes[i].comm : "?",
				format_bytes(bytes, sizeof(bytes), (double)r->processes[i].bytes),
				i + 1 < r->nprocesses ? "," : "");
		fputc('\n', out);
	}
	fprintf(out, "\n%4s %12s %12s %9s  %s\n", "#", "GROWTH", "OUTSTANDING", "ALLOCS", "TOP FRAME");
	for (size_t i = 0; i < r->count; i++) {
		const struct report_stack *s = &r->stacks[i];
		const struct frame *top = report_top_frame(s);

		fprintf(out, "%4zu %12s %12s %9lld  %s\n", i + 1,
			format_rate(growth, sizeof(growth), s->growth),
			format_bytes(bytes, sizeof(bytes), (double)s->bytes), (long long)s->allocs,
			top ? format_frame(label, sizeof(label), top) : "[no frames]");
	}
	for (size_t i = 0; i < r->count && (int)i < full_stacks; i++) {
		const struct report_stack *s = &r->stacks[i];

		fprintf(out, "\n#%zu stack %016llx:\n", i + 1, (unsigned long long)s->id);
		for (int j = 0; j < s->nframes; j++) {
			const struct frame *f = s->frames[j];

			fprintf(out, "    %s", format_frame(label, sizeof(label), f));
			if (f->function && f->object)
				fprintf(out, "  [%s]", f->object);
			fputc('\n', out);
		}
	}
	fputc('\n', out);
	fflush(out);
}
