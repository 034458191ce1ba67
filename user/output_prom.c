/* The Prometheus textfile view: exposition format, written atomically. */
#include "atomic_file.h"
#include "output_prom.h"

/* Label values escape backslash, double quote and newline. */
static void label_value(FILE *out, const char *s)
{
	fputc('"', out);
	for (; s && *s; s++) {
		if (*s == '\\' || *s == '"')
			fputc('\\', out);
		if (*s == '\n') {
			fputs("\\n", out);
			continue;
		}
		fputc(*s, out);
	}
	fputc('"', out);
}

static void labels(FILE *out, const struct report *r, const char *stack_id, const char *top_frame)
{
	fprintf(out, "{pid=\"%d\",comm=", r->pid);
	label_value(out, r->comm);
	if (stack_id) {
		fputs(",stack_id=", out);
		label_value(out, stack_id);
		fputs(",top_frame=", out);
		label_value(out, top_frame);
	}
	fputc('}', out);
}

static void header(FILE *out, const char *name, const char *type, const char *help)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One per-stack metric: the top stacks, then "other" for the rest. */
static void stack_metric(FILE *out, const struct report *r, size_t top, bool growth)
{
	const char *name = growth ? "leaktop_stack_growth_bytes_per_second" : "leaktop_stack_outstanding_bytes";
	double other = growth ? r->growth : (double)r->bytes;
	char id[17], label[512];

	header(out, name, "gauge",
	       growth ? "Growth of the stack's outstanding heap bytes over the growth window."
		      : "Heap bytes allocated by the stack and not yet freed, since leaktop attached.");
	for (size_t i = 0; i < r->count && i < top; i++) {
		const struct report_stack *s = &r->stacks[i];
		const struct frame *f = report_top_frame(s);
		double v = growth ? s->growth : (double)s->bytes;

		snprintf(id, sizeof(id), "%016llx", (unsigned long long)s->id);
		fputs(name, out);
		labels(out, r, id, f ? format_frame(label, sizeof(label), f) : "");
		fprintf(out, " %.17g\n", v);
		other -= v;
	}
	fputs(name, out);
	labels(out, r, "other", "other");
	fprintf(out, " %.17g\n", other);
}

/* A group's per-process totals: one series per traced process. */
static void process_metric(FILE *out, const struct report *r, const char *name, const char *help, int which)
{
	header(out, name, "gauge", help);
	for (size_t i = 0; i < r->nprocesses; i++) {
		const struct report_process *p = &r->processes[i];

		fprintf(out, "%s{pid=\"%d\",comm=", name, p->pid);
		label_value(out, p->comm);
		fputc('}', out);
		if (which == 0)
			fprintf(out, " %lld\n", (long long)p->bytes);
		else if (which == 1)
			fprintf(out, " %lld\n", (long long)p->allocs);
		else
			fprintf(out, " %.17g\n", p->growth);
	}
}

void prom_format(FILE *out, const struct report *r, size_t top)
{
	header(out, "leaktop_outstanding_bytes", "gauge",
	       "Heap bytes allocated and not yet freed, since leaktop attached.");
	fputs("leaktop_outstanding_bytes", out);
	labels(out, r, NULL, NULL);
	fprintf(out, " %lld\n", (long long)r->bytes);
	header(out, "leaktop_outstanding_allocations", "gauge",
	       "Allocations made and not yet freed, since leaktop attached.");
	fputs("leaktop_outstanding_allocations", out);
	labels(out, r, NULL, NULL);
	fprintf(out, " %lld\n", (long long)r->allocs);
	stack_metric(out, r, top, false);
	stack_metric(out, r, top, true);
	header(out, "leaktop_lost_events_total", "counter",
	       "Allocations or stacks leaktop could not track (full maps, stack collisions).");
	fputs("leaktop_lost_events_total", out);
	labels(out, r, NULL, NULL);
	fprintf(out, " %llu\n", (unsigned long long)r->lost_events);
	if (r->kernel_map_bytes) {
		header(out, "leaktop_kernel_map_bytes", "gauge",
		       "Kernel memory leaktop's BPF maps hold for this target (locked, the host's).");
		fputs("leaktop_kernel_map_bytes", out);
		labels(out, r, NULL, NULL);
		fprintf(out, " %llu\n", (unsigned long long)r->kernel_map_bytes);
	}
	if (!r->group)
		return;
	process_metric(out, r, "leaktop_process_outstanding_bytes",
		       "Heap bytes allocated and not yet freed by one traced process, since leaktop attached to it.", 0);
	process_metric(out, r, "leaktop_process_outstanding_allocations",
		       "Allocations made and not yet freed by one traced process, since leaktop attached to it.", 1);
	process_metric(out, r, "leaktop_process_growth_bytes_per_second",
		       "Growth of one traced process's outstanding heap bytes over the growth window.", 2);
}

struct prom_args {
	const struct report *r;
	size_t top;
};

static void fill(FILE *out, const void *arg)
{
	const struct prom_args *a = arg;

	prom_format(out, a->r, a->top);
}

int prom_write(const char *path, const struct report *r, size_t top, char *err, size_t errlen)
{
	struct prom_args args = { r, top };

	return write_file_atomically(path, fill, &args, err, errlen);
}
