/* rt_format.c — format checks (RFC 3339 dates and times, RFC 4122 uuid,
 * RFC 5321 mailbox (simplified), RFC 3986 URI, IPv4/IPv6, base64). */
#include "rt_format.h"

#include <arpa/inet.h>
#include <string.h>

static const struct { const char *name; enum rt_format f; } rt_format_names[] = {
	{ "date-time", RT_FMT_DATE_TIME }, { "date", RT_FMT_DATE }, { "time", RT_FMT_TIME },
	{ "uuid", RT_FMT_UUID }, { "email", RT_FMT_EMAIL }, { "uri", RT_FMT_URI },
	{ "ipv4", RT_FMT_IPV4 }, { "ipv6", RT_FMT_IPV6 }, { "byte", RT_FMT_BYTE },
	{ "int32", RT_FMT_INT32 }, { "int64", RT_FMT_INT64 }, { "hostname", RT_FMT_HOSTNAME },
	{ "uri-reference", RT_FMT_URI_REFERENCE }, { "regex", RT_FMT_REGEX },
};

enum rt_format rt_format_from_name(const char *name)
{
	for (size_t i = 0; i < sizeof rt_format_names / sizeof rt_format_names[0]; i++)
		if (strcmp(rt_format_names[i].name, name) == 0)
			return rt_format_names[i].f;
	return RT_FMT_NONE;
}

const char *rt_format_name(enum rt_format f)
{
	for (size_t i = 0; i < sizeof rt_format_names / sizeof rt_format_names[0]; i++)
		if (rt_format_names[i].f == f)
			return rt_format_names[i].name;
	return "format";
}

static int rt_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

static int rt_num(const char *s, size_t n)
{
	int v = 0;

	for (size_t i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	return v;
}

static const char *rt_check_date(const char *s, size_t n)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int y, m, d;

	if (n != 10 || s[4] != '-' || s[7] != '-' || !rt_digits(s, 4) || !rt_digits(s + 5, 2) || !rt_digits(s + 8, 2))
		return "expected YYYY-MM-DD";
	y = rt_num(s, 4);
	m = rt_num(s + 5, 2);
	d = rt_num(s + 8, 2);
	if (m < 1 || m > 12)
		return "month out of range";
	if (d < 1 || d > mdays[m - 1])
		return "day out of range";
	if (m == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return "February 29 in a common year";
	return NULL;
}

/* RFC 3339 full-time: HH:MM:SS[.frac](Z|+HH:MM|-HH:MM) */
static const char *rt_check_time(const char *s, size_t n)
{
	size_t i = 8;
	int h, mi, sec, oh = 0, om = 0, sign = 0;

	if (n < 9 || s[2] != ':' || s[5] != ':' || !rt_digits(s, 2) || !rt_digits(s + 3, 2) || !rt_digits(s + 6, 2))
		return "expected HH:MM:SS followed by a time zone";
	h = rt_num(s, 2);
	mi = rt_num(s + 3, 2);
	sec = rt_num(s + 6, 2);
	if (i < n && s[i] == '.') {
		size_t start = ++i;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == start)
			return "empty fraction of a second";
	}
	if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
		i++;
	} else if (i < n && (s[i] == '+' || s[i] == '-')) {
		sign = s[i] == '+' ? 1 : -1;
		if (n - i != 6 || s[i + 3] != ':' || !rt_digits(s + i + 1, 2) || !rt_digits(s + i + 4, 2))
			return "bad time-zone offset";
		oh = rt_num(s + i + 1, 2);
		om = rt_num(s + i + 4, 2);
		if (oh > 23 || om > 59)
			return "time-zone offset out of range";
		i += 6;
	} else {
		return "missing time zone (Z or +HH:MM)";
	}
	if (i != n)
		return "unexpected characters after the time";
	if (h > 23 || mi > 59 || sec > 60)
		return "hour, minute or second out of range";
	if (sec == 60) {
		/* a leap second is only valid at 23:59:60 UTC */
		int utc = (h * 60 + mi - sign * (oh * 60 + om) + 1440) % 1440;
		if (utc != 23 * 60 + 59)
			return "leap second not at 23:59 UTC";
	}
	return NULL;
}

static const char *rt_check_date_time(const char *s, size_t n)
{
	const char *why;

	if (n < 20 || (s[10] != 'T' && s[10] != 't' && s[10] != ' '))
		return "expected YYYY-MM-DDTHH:MM:SS and a time zone";
	if ((why = rt_check_date(s, 10)) != NULL)
		return why;
	return rt_check_time(s + 11, n - 11);
}

static int rt_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static const char *rt_check_uuid(const char *s, size_t n)
{
	if (n != 36)
		return "expected 36 characters, 8-4-4-4-12 hexadecimal digits";
	for (size_t i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return "expected 8-4-4-4-12 hexadecimal digits";
		} else if (!rt_hex(s[i])) {
			return "expected hexadecimal digits";
		}
	}
	return NULL;
}

static const char *rt_check_ipv4(const char *s, size_t n)
{
	char buf[16];
	struct in_addr a;
	int parts = 0;

	if (n == 0 || n >= sizeof buf)
		return "expected four decimal numbers separated by dots";
	/* inet_pton accepts no leading zeros beyond the number itself; check them */
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '.')
			continue;
		if (s[i] < '0' || s[i] > '9')
			return "expected four decimal numbers separated by dots";
		if ((i == 0 || s[i - 1] == '.') && s[i] == '0' && i + 1 < n && s[i + 1] != '.')
			return "leading zeros are not allowed";
		if (i == 0 || s[i - 1] == '.')
			parts++;
	}
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (parts != 4 || inet_pton(AF_INET, buf, &a) != 1)
		return "expected four decimal numbers from 0 to 255 separated by dots";
	return NULL;
}

static const char *rt_check_ipv6(const char *s, size_t n)
{
	char buf[64];
	struct in6_addr a;

	if (n == 0 || n >= sizeof buf || memchr(s, '%', n))
		return "not an IPv6 address";
	memcpy(buf, s, n);
	buf[n] = '\0';
	return inet_pton(AF_INET6, buf, &a) == 1 ? NULL : "not an IPv6 address";
}

static const char *rt_check_hostname(const char *s, size_t n)
{
	size_t label = 0;

	if (n == 0 || n > 253)
		return "must be 1 to 253 characters";
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return "empty label or label ending in '-'";
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'))
			return "labels hold letters, digits and '-' only";
		if (c == '-' && label == 0)
			return "label starts with '-'";
		if (++label > 63)
			return "label longer than 63 characters";
	}
	if (s[n - 1] == '-')
		return "label ends with '-'";
	return NULL;
}

static const char *rt_check_email(const char *s, size_t n)
{
	const char *at = memrchr(s, '@', n);
	size_t local, domain;

	if (!at)
		return "missing '@'";
	local = (size_t)(at - s);
	domain = n - local - 1;
	if (local == 0 || local > 64)
		return "local part must be 1 to 64 characters";
	if (s[0] == '.' || s[local - 1] == '.')
		return "local part starts or ends with '.'";
	for (size_t i = 0; i < local; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= ' ' || c == '(' || c == ')' || c == ',' || c == ':' || c == ';' || c == '<' ||
		    c == '>' || c == '@' || c == '[' || c == '\\' || c == ']' || c == '"')
			return "character not allowed in the local part";
		if (c == '.' && i + 1 < local && s[i + 1] == '.')
			return "two consecutive dots in the local part";
	}
	if (domain >= 2 && at[1] == '[' && s[n - 1] == ']') {
		const char *lit = at + 2;
		size_t ln = domain - 2;
		if (ln > 5 && strncmp(lit, "IPv6:", 5) == 0)
			return rt_check_ipv6(lit + 5, ln - 5);
		return rt_check_ipv4(lit, ln);
	}
	return rt_check_hostname(at + 1, domain);
}

/* RFC 3986: scheme ":" hier-part, with only allowed characters and valid
 * percent-escapes. reference: a relative reference is allowed too. */
static const char *rt_check_uri(const char *s, size_t n, int reference)
{
	size_t i = 0;
	int has_scheme = 0;

	if (n > 0 && ((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z'))) {
		size_t k = 1;
		while (k < n && ((s[k] >= 'a' && s[k] <= 'z') || (s[k] >= 'A' && s[k] <= 'Z') ||
		                 (s[k] >= '0' && s[k] <= '9') || s[k] == '+' || s[k] == '-' || s[k] == '.'))
			k++;
		if (k < n && s[k] == ':') {
			has_scheme = 1;
			i = k + 1;
		}
	}
	if (!has_scheme && !reference)
		return "missing scheme (such as https:)";
	for (; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '%') {
			if (i + 2 >= n || !rt_hex(s[i + 1]) || !rt_hex(s[i + 2]))
				return "bad percent-escape";
			i += 2;
			continue;
		}
		if (c <= ' ' || c >= 0x7f || c == '"' || c == '<' || c == '>' || c == '\\' || c == '^' ||
		    c == '`' || c == '{' || c == '|' || c == '}')
			return "character not allowed in a URI";
	}
	/* an authority's port must be digits */
	if (has_scheme) {
		const char *h = memchr(s, ':', n);
		if (h && (size_t)(h - s) + 2 < n && h[1] == '/' && h[2] == '/') {
			const char *auth = h + 3, *end = s + n;
			const char *stop = auth;
			while (stop < end && *stop != '/' && *stop != '?' && *stop != '#')
				stop++;
			const char *at = memrchr(auth, '@', (size_t)(stop - auth));
			const char *host = at ? at + 1 : auth;
			if (host < stop && *host == '[') {
				const char *close = memchr(host, ']', (size_t)(stop - host));
				if (!close)
					return "unclosed IPv6 literal";
				host = close + 1;
			}
			const char *colon = memchr(host, ':', (size_t)(stop - host));
			if (colon && !rt_digits(colon + 1, (size_t)(stop - colon - 1)))
				return "port must be digits";
		}
	}
	return NULL;
}

static const char *rt_check_byte(const char *s, size_t n)
{
	size_t pad = 0;

	if (n % 4 != 0)
		return "base64 length must be a multiple of 4";
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '=') {
			pad++;
			continue;
		}
		if (pad)
			return "'=' only at the end";
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/'))
			return "character not allowed in base64";
	}
	return pad > 2 ? "too much padding" : NULL;
}

const char *rt_format_check(enum rt_format f, const char *s, size_t len)
{
	switch (f) {
	case RT_FMT_DATE_TIME: return rt_check_date_time(s, len);
	case RT_FMT_DATE: return rt_check_date(s, len);
	case RT_FMT_TIME: return rt_check_time(s, len);
	case RT_FMT_UUID: return rt_check_uuid(s, len);
	case RT_FMT_EMAIL: return rt_check_email(s, len);
	case RT_FMT_URI: return rt_check_uri(s, len, 0);
	case RT_FMT_URI_REFERENCE: return rt_check_uri(s, len, 1);
	case RT_FMT_IPV4: return rt_check_ipv4(s, len);
	case RT_FMT_IPV6: return rt_check_ipv6(s, len);
	case RT_FMT_BYTE: return rt_check_byte(s, len);
	case RT_FMT_HOSTNAME: return rt_check_hostname(s, len);
	default: return NULL;
	}
}
