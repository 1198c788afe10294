package sailor

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
)

// Cipher is the platform's message encryption: AES-256-CBC with PKCS#7
// padding, key = SHA-256(password), IV = the 16 raw bytes of the IV string.
// Without a password (allowed only in hook-shutdown mode) it is the identity.
type Cipher struct {
	block cipher.Block
	iv    []byte
}

// NewCipher builds the cipher for a password and IV.
func NewCipher(password, iv string) (*Cipher, error) {
	if password == "" {
		return &Cipher{}, nil
	}
	if len(iv) != aes.BlockSize {
		return nil, fmt.Errorf("crypto iv must be %d bytes, got %d", aes.BlockSize, len(iv))
	}
	key := sha256.Sum256([]byte(password))
	block, err := aes.NewCipher(key[:])
	if err != nil {
		return nil, fmt.Errorf("crypto key: %w", err)
	}
	return &Cipher{block: block, iv: []byte(iv)}, nil
}

// Encrypt pads and encrypts plain.
func (c *Cipher) Encrypt(plain []byte) []byte {
	if c.block == nil {
		return append([]byte(nil), plain...)
	}
	pad := aes.BlockSize - len(plain)%aes.BlockSize
	out := make([]byte, len(plain)+pad)
	copy(out, plain)
	for i := len(plain); i < len(out); i++ {
		out[i] = byte(pad)
	}
	cipher.NewCBCEncrypter(c.block, c.iv).CryptBlocks(out, out)
	return out
}

var errBadPadding = errors.New("bad padding")

// Decrypt decrypts and unpads ct.
func (c *Cipher) Decrypt(ct []byte) ([]byte, error) {
	if c.block == nil {
		return append([]byte(nil), ct...), nil
	}
	return c.decryptInto(make([]byte, len(ct)), ct)
}

// decryptInto decrypts ct into out (len(ct) bytes; it may be ct itself) and
// unpads it.
func (c *Cipher) decryptInto(out, ct []byte) ([]byte, error) {
	if len(ct) == 0 || len(ct)%aes.BlockSize != 0 {
		return nil, fmt.Errorf("ciphertext length %d is not a positive multiple of %d", len(ct), aes.BlockSize)
	}
	cipher.NewCBCDecrypter(c.block, c.iv).CryptBlocks(out, ct)
	pad := int(out[len(out)-1])
	if pad == 0 || pad > aes.BlockSize {
		return nil, errBadPadding
	}
	for _, b := range out[len(out)-pad:] {
		if int(b) != pad {
			return nil, errBadPadding
		}
	}
	return out[:len(out)-pad], nil
}

// EncryptMessage encrypts plain for a protocol version: 1 = base64 text of
// the ciphertext, 2 = the raw ciphertext.
func (c *Cipher) EncryptMessage(plain []byte, version int) []byte {
	if version >= 2 || c.block == nil {
		ct := c.Encrypt(plain)
		if version >= 2 {
			return ct
		}
		return base64.StdEncoding.AppendEncode(nil, ct)
	}
	// v1: the ciphertext is only the input of base64; encrypt it in the
	// tail of the output buffer (base64 never writes past what it read).
	ctLen := (len(plain)/aes.BlockSize + 1) * aes.BlockSize
	encLen := base64.StdEncoding.EncodedLen(ctLen)
	out := make([]byte, encLen+ctLen)
	ct := out[encLen:]
	copy(ct, plain)
	pad := ctLen - len(plain)
	for i := len(plain); i < ctLen; i++ {
		ct[i] = byte(pad)
	}
	cipher.NewCBCEncrypter(c.block, c.iv).CryptBlocks(ct, ct)
	base64.StdEncoding.Encode(out[:encLen], ct)
	return out[:encLen:encLen]
}

// DecryptMessage reverses EncryptMessage.
func (c *Cipher) DecryptMessage(body []byte, version int) ([]byte, error) {
	if len(body) == 0 {
		return nil, errors.New("empty message")
	}
	var plain []byte
	var err error
	if version < 2 {
		ct := make([]byte, base64.StdEncoding.DecodedLen(len(body)))
		n, b64Err := base64.StdEncoding.Decode(ct, bytes.TrimSpace(body))
		if b64Err != nil {
			return nil, fmt.Errorf("base64: %w", b64Err)
		}
		ct = ct[:n]
		if c.block == nil {
			return ct, nil
		}
		plain, err = c.decryptInto(ct, ct) // ct is ours: decrypt in place
	} else {
		plain, err = c.Decrypt(body)
	}
	if err != nil {
		return nil, fmt.Errorf("decrypt: %w", err)
	}
	return plain, nil
}

// encryptBase64 is the encoding of the strings inside error payloads.
func (c *Cipher) encryptBase64(plain []byte) string {
	return base64.StdEncoding.EncodeToString(c.Encrypt(plain))
}
