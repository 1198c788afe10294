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
	if len(ct) == 0 || len(ct)%aes.BlockSize != 0 {
		return nil, fmt.Errorf("ciphertext length %d is not a positive multiple of %d", len(ct), aes.BlockSize)
	}
	out := make([]byte, len(ct))
	cipher.NewCBCDecrypter(c.block, c.iv).CryptBlocks(out, ct)
	pad := int(out[len(out)-1])
	if pad == 0 || pad > aes.BlockSize || !bytes.Equal(out[len(out)-pad:], bytes.Repeat([]byte{byte(pad)}, pad)) {
		return nil, errBadPadding
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
	out := make([]byte, base64.StdEncoding.EncodedLen(len(ct)))
	base64.StdEncoding.Encode(out, ct)
	return out
}

// DecryptMessage reverses EncryptMessage.
func (c *Cipher) DecryptMessage(body []byte, version int) ([]byte, error) {
	if len(body) == 0 {
		return nil, errors.New("empty message")
	}
	ct := body
	if version < 2 {
		ct = make([]byte, base64.StdEncoding.DecodedLen(len(body)))
		n, err := base64.StdEncoding.Decode(ct, bytes.TrimSpace(body))
		if err != nil {
			return nil, fmt.Errorf("base64: %w", err)
		}
		ct = ct[:n]
	}
	plain, err := c.Decrypt(ct)
	if err != nil {
		return nil, fmt.Errorf("decrypt: %w", err)
	}
	return plain, nil
}

// encryptBase64 is the encoding of the strings inside error payloads.
func (c *Cipher) encryptBase64(plain []byte) string {
	return base64.StdEncoding.EncodeToString(c.Encrypt(plain))
}
