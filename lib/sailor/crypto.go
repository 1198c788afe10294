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
	ct := make([]byte, len(plain)+pad)
	copy(ct, plain)
	for i := len(plain); i < len(ct); i++ {
		ct[i] = byte(pad)
	}
	cipher.NewCBCEncrypter(c.block, c.iv).CryptBlocks(ct, ct)
	return ct
}

var errBadPadding = errors.New("bad padding")

// Decrypt decrypts and unpads ct.
func (c *Cipher) Decrypt(ct []byte) ([]byte, error) {
	if c.block == nil {
		return append([]byte(nil), ct...), nil
	}
	return c.decryptInto(make([]byte, len(ct)), ct)
}

// decryptInPlace decrypts and unpads ct in its own buffer.
func (c *Cipher) decryptInPlace(ct []byte) ([]byte, error) {
	if c.block == nil {
		return ct, nil
	}
	return c.decryptInto(ct, ct)
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
	ct := c.Encrypt(plain)
	if version >= 2 {
		return ct
	}
	return base64.StdEncoding.AppendEncode(nil, ct)
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
