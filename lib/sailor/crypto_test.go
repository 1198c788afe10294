package sailor

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"
)

type cryptoVectors struct {
	Password string `json:"password"`
	IV       string `json:"iv"`
	Vectors  []struct {
		Plaintext string `json:"plaintext"`
		V1        string `json:"v1_base64"`
		V2        string `json:"v2_hex"`
	} `json:"vectors"`
}

func loadVectors(t *testing.T) cryptoVectors {
	t.Helper()
	b, err := os.ReadFile("testdata/sailor-crypto-vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v cryptoVectors
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Vectors) == 0 {
		t.Fatal("no vectors")
	}
	return v
}

func TestCipherOfficialVectors(t *testing.T) {
	v := loadVectors(t)
	c, err := NewCipher(v.Password, v.IV)
	if err != nil {
		t.Fatal(err)
	}
	for i, vec := range v.Vectors {
		if got := string(c.EncryptMessage([]byte(vec.Plaintext), 1)); got != vec.V1 {
			t.Errorf("vector %d v1 = %s, want %s", i, got, vec.V1)
		}
		if got := hex.EncodeToString(c.EncryptMessage([]byte(vec.Plaintext), 2)); got != vec.V2 {
			t.Errorf("vector %d v2 = %s, want %s", i, got, vec.V2)
		}
		plain, err := c.DecryptMessage([]byte(vec.V1), 1)
		if err != nil || string(plain) != vec.Plaintext {
			t.Errorf("vector %d v1 decrypt = %q, %v", i, plain, err)
		}
		raw, _ := hex.DecodeString(vec.V2)
		plain, err = c.DecryptMessage(raw, 2)
		if err != nil || string(plain) != vec.Plaintext {
			t.Errorf("vector %d v2 decrypt = %q, %v", i, plain, err)
		}
	}
}

func TestCipherRejectsBadInput(t *testing.T) {
	c, err := NewCipher("testCryptoPassword", "iv=any16_symbols")
	if err != nil {
		t.Fatal(err)
	}
	other, _ := NewCipher("anotherPassword", "iv=any16_symbols")
	for name, in := range map[string]struct {
		body    []byte
		version int
	}{
		"empty":            {nil, 1},
		"not base64":       {[]byte("!!!not base64!!!"), 1},
		"not block sized":  {[]byte{1, 2, 3}, 2},
		"wrong key":        {other.EncryptMessage([]byte(`{"a":1}`), 2), 2},
		"wrong key v1":     {other.EncryptMessage([]byte(`{"a":1}`), 1), 1},
		"v1 body read raw": {c.EncryptMessage([]byte(`{"a":1}`), 1), 2},
	} {
		if plain, err := c.DecryptMessage(in.body, in.version); err == nil {
			t.Errorf("%s: decrypted to %q without error", name, plain)
		}
	}
	if _, err := NewCipher("pw", "short"); err == nil {
		t.Error("short IV accepted")
	}
}

func TestCipherWithoutPasswordIsIdentity(t *testing.T) {
	c, err := NewCipher("", "")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Encrypt([]byte("x")); !bytes.Equal(got, []byte("x")) {
		t.Errorf("Encrypt = %q", got)
	}
	if got := string(c.EncryptMessage([]byte("{}"), 1)); got != "e30=" {
		t.Errorf("v1 of {} = %q, want base64 of the JSON", got)
	}
}

// TestEncryptMessageV1IsBase64OfEncrypt checks the v1 encoding against its
// definition, for lengths around the block size.
func TestEncryptMessageV1IsBase64OfEncrypt(t *testing.T) {
	c, err := NewCipher("testCryptoPassword", "iv=any16_symbols")
	if err != nil {
		t.Fatal(err)
	}
	for n := range 50 {
		plain := bytes.Repeat([]byte{'a' + byte(n%26)}, n)
		want := base64.StdEncoding.EncodeToString(c.Encrypt(plain))
		got := c.EncryptMessage(plain, 1)
		if string(got) != want {
			t.Fatalf("%d bytes: %s, want %s", n, got, want)
		}
		back, err := c.DecryptMessage(got, 1)
		if err != nil || !bytes.Equal(back, plain) {
			t.Fatalf("%d bytes: round trip %q, %v", n, back, err)
		}
	}
}
