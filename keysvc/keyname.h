/* keyname.h — what a key name may be: UTF-8 text without control
 * characters (C0, DEL, C1) or bidirectional controls (U+202A-E, U+2066-9,
 * U+200E/F, U+061C), which make a name read as another one (an RLO turns
 * "invoice\u202egpj.exe" into "invoiceexe.jpg" on screen); stored in
 * Unicode NFC, so the composed and the decomposed `café` are one name.
 * The normalization tables are libunistring's (uninorm.h). */
#ifndef KEYNAME_H
#define KEYNAME_H

#include <stddef.h>

/* Writes the NFC form of in (NUL-terminated) to out; 0, or -1 when in is
 * not UTF-8, holds a refused character, or its NFC form is longer than
 * max_chars code points or than outlen - 1 bytes. */
int keyname_nfc(const char *in, char *out, size_t outlen, size_t max_chars);

#endif
