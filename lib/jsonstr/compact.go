package jsonstr

import (
	"bytes"
	"encoding/json"
	"errors"
)

// ErrInvalid says a text is not one valid JSON value.
var ErrInvalid = errors.New("not valid JSON")

// Compact returns src as json.Compact writes it (no whitespace between
// tokens), or ErrInvalid when src is not one JSON value as json.Valid
// judges it. A src with whitespace only around its value (as APIs answer,
// often with a trailing newline) comes back as a subslice of itself: it is
// checked in one pass, without encoding/json's scanner or a copy. Other
// texts are compacted by json.Compact into a new slice.
func Compact(src []byte) ([]byte, error) {
	start, end, spaced, ok := scan(src)
	if !ok {
		return nil, ErrInvalid
	}
	if !spaced {
		return src[start:end:end], nil
	}
	var buf bytes.Buffer
	buf.Grow(end - start)
	if err := json.Compact(&buf, src); err != nil {
		return nil, ErrInvalid
	}
	return buf.Bytes(), nil
}

// maxDepth is encoding/json's limit on nested arrays and objects.
const maxDepth = 10000

// scan checks that src is one JSON value with only whitespace around it,
// as json.Valid does, and returns where the value starts and ends and
// whether whitespace occurs between its tokens.
func scan(src []byte) (start, end int, spaced, ok bool) {
	i := skipSpace(src, 0)
	start = i
	var stack []byte // '{' or '[' per open container
	for {
		// A value starts at i.
		if i >= len(src) {
			return 0, 0, false, false
		}
		switch c := src[i]; {
		case c == '{' || c == '[':
			if len(stack) == maxDepth {
				return 0, 0, false, false
			}
			stack = append(stack, c)
			j := skipSpace(src, i+1)
			spaced = spaced || j > i+1
			i = j
			if i < len(src) && src[i] == c+2 { // '}' or ']'
				stack = stack[:len(stack)-1]
				i++
				break
			}
			if c == '{' {
				if i = member(src, i, &spaced); i < 0 {
					return 0, 0, false, false
				}
			}
			continue
		case c == '"':
			if i = skipString(src, i); i < 0 {
				return 0, 0, false, false
			}
		case c == '-' || (c >= '0' && c <= '9'):
			if i = skipNumber(src, i); i < 0 {
				return 0, 0, false, false
			}
		case c == 't':
			if i = skipLiteral(src, i, "true"); i < 0 {
				return 0, 0, false, false
			}
		case c == 'f':
			if i = skipLiteral(src, i, "false"); i < 0 {
				return 0, 0, false, false
			}
		case c == 'n':
			if i = skipLiteral(src, i, "null"); i < 0 {
				return 0, 0, false, false
			}
		default:
			return 0, 0, false, false
		}
		// A value ended at i: close containers, or go on to the next value.
		for {
			if len(stack) == 0 {
				end = i
				if skipSpace(src, i) != len(src) {
					return 0, 0, false, false
				}
				return start, end, spaced, true
			}
			j := skipSpace(src, i)
			spaced = spaced || j > i
			i = j
			if i >= len(src) {
				return 0, 0, false, false
			}
			top := stack[len(stack)-1]
			if src[i] == top+2 {
				stack = stack[:len(stack)-1]
				i++
				continue
			}
			if src[i] != ',' {
				return 0, 0, false, false
			}
			j = skipSpace(src, i+1)
			spaced = spaced || j > i+1
			i = j
			if top == '{' {
				if i = member(src, i, &spaced); i < 0 {
					return 0, 0, false, false
				}
			}
			break
		}
	}
}

// member skips an object member's name and colon from i, and the
// whitespace after them; it returns where the value starts, or -1.
func member(src []byte, i int, spaced *bool) int {
	if i >= len(src) || src[i] != '"' {
		return -1
	}
	if i = skipString(src, i); i < 0 {
		return -1
	}
	j := skipSpace(src, i)
	if j >= len(src) || src[j] != ':' {
		return -1
	}
	k := skipSpace(src, j+1)
	if j > i || k > j+1 {
		*spaced = true
	}
	return k
}

func skipSpace(src []byte, i int) int {
	for i < len(src) {
		switch src[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// skipString returns the index after the string that starts at i, or -1.
// Like encoding/json, it rejects control characters and bad escapes and
// accepts any other byte (invalid UTF-8 included).
func skipString(src []byte, i int) int {
	for i++; i < len(src); i++ {
		switch c := src[i]; {
		case c == '"':
			return i + 1
		case c < 0x20:
			return -1
		case c == '\\':
			i++
			if i >= len(src) {
				return -1
			}
			switch src[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(src) {
					return -1
				}
				for _, h := range src[i+1 : i+5] {
					if !isHex(h) {
						return -1
					}
				}
				i += 4
			default:
				return -1
			}
		}
	}
	return -1
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// skipNumber returns the index after the number that starts at i, or -1:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func skipNumber(src []byte, i int) int {
	if src[i] == '-' {
		i++
	}
	switch {
	case i < len(src) && src[i] == '0':
		i++
	case i < len(src) && src[i] >= '1' && src[i] <= '9':
		i = skipDigits(src, i)
	default:
		return -1
	}
	if i < len(src) && src[i] == '.' {
		j := skipDigits(src, i+1)
		if j == i+1 {
			return -1
		}
		i = j
	}
	if i < len(src) && (src[i] == 'e' || src[i] == 'E') {
		i++
		if i < len(src) && (src[i] == '+' || src[i] == '-') {
			i++
		}
		j := skipDigits(src, i)
		if j == i {
			return -1
		}
		i = j
	}
	return i
}

func skipDigits(src []byte, i int) int {
	for i < len(src) && src[i] >= '0' && src[i] <= '9' {
		i++
	}
	return i
}

func skipLiteral(src []byte, i int, lit string) int {
	if len(src)-i < len(lit) || string(src[i:i+len(lit)]) != lit {
		return -1
	}
	return i + len(lit)
}

// Valid reports whether src is one JSON value, as json.Valid does, in one
// pass without encoding/json's scanner.
func Valid(src []byte) bool {
	_, _, _, ok := scan(src)
	return ok
}
