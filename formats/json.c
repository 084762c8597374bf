/* JSON output helpers. */
#include <stdint.h>

#include "formats.h"

/* Length of a valid UTF-8 sequence at s, or 0. */
static size_t utf8_len(const unsigned char *s)
{
	if (s[0] < 0x80)
		return 1;
	size_t n;
	uint32_t c;
	if ((s[0] & 0xe0) == 0xc0) {
		n = 2;
		c = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		n = 3;
		c = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		n = 4;
		c = s[0] & 0x07;
	} else {
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if ((n == 2 && c < 0x80) || (n == 3 && c < 0x800) ||
	    (n == 4 && (c < 0x10000 || c > 0x10ffff)) ||
	    (c >= 0xd800 && c <= 0xdfff))
		return 0;
	return n;
}

void pyhs_json_string(FILE *out, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	putc('"', out);
	while (*s) {
		unsigned char c = *s;
		if (c == '"' || c == '\\') {
			putc('\\', out);
			putc(c, out);
			s++;
		} else if (c < 0x20 || c == 0x7f) {
			fprintf(out, "\\u%04x", c);
			s++;
		} else if (c < 0x80) {
			/* A run of characters that need no escape, at once. */
			const unsigned char *e = s + 1;
			while (*e >= 0x20 && *e < 0x7f && *e != '"' && *e != '\\')
				e++;
			fwrite(s, 1, (size_t)(e - s), out);
			s = e;
		} else {
			size_t n = utf8_len(s);
			if (n) {
				fwrite(s, 1, n, out);
				s += n;
			} else {
				fputs("\\ufffd", out);
				s++;
			}
		}
	}
	putc('"', out);
}

void pyhs_json_gen(FILE *out, enum pyhs_gen gen)
{
	switch (gen) {
	case PYHS_GEN_0:
	case PYHS_GEN_1:
	case PYHS_GEN_2:
		fprintf(out, "%d", (int)gen);
		break;
	case PYHS_GEN_PERMANENT:
		fputs("\"permanent\"", out);
		break;
	default:
		fputs("null", out);
		break;
	}
}
