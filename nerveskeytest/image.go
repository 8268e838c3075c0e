package nerveskeytest

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// An Image is a chip's EEPROM: the config and OTP zones and the 16 data
// slots at full size (36, 416 or 72 bytes). Slot 0 of a NervesKey holds
// 4 zero bytes and then the 32-byte P-256 private scalar, as the chip
// stores it.
//
// Its JSON form is the `image` object of chips.json:
// {"config": hex, "otp": hex, "slots": {"0": hex, …, "15": hex}}.
type Image struct {
	Config [128]byte
	OTP    [64]byte
	Slots  [16][]byte
}

// An ImageError reports a malformed chip image.
type ImageError struct {
	Field string // e.g. "config", "slots.3"
	Msg   string
}

// Error describes the field and what is wrong with it.
func (e *ImageError) Error() string {
	if e.Field == "" {
		return "nerveskeytest: chip image: " + e.Msg
	}
	return "nerveskeytest: chip image: " + e.Field + ": " + e.Msg
}

// imageJSON is the wire form of an Image; Image is the chips.json vector
// wrapper.
type imageJSON struct {
	Config *string            `json:"config"`
	OTP    *string            `json:"otp"`
	Slots  map[string]*string `json:"slots"`
	Image  json.RawMessage    `json:"image"`
}

// ParseImage decodes a chip image from JSON: either a bare image object or
// a chips.json vector object, whose "image" it uses. Unknown fields are
// ignored. A malformed image gives an *ImageError.
func ParseImage(data []byte) (*Image, error) {
	var j imageJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return nil, &ImageError{Msg: err.Error()}
	}
	if j.Config == nil && j.OTP == nil && j.Slots == nil && len(j.Image) > 0 {
		var inner imageJSON
		if err := json.Unmarshal(j.Image, &inner); err != nil {
			return nil, &ImageError{Field: "image", Msg: err.Error()}
		}
		j = inner
	}
	im := new(Image)
	if err := decodeHex("config", j.Config, im.Config[:]); err != nil {
		return nil, err
	}
	if err := decodeHex("otp", j.OTP, im.OTP[:]); err != nil {
		return nil, err
	}
	if j.Slots == nil {
		return nil, &ImageError{Field: "slots", Msg: "missing"}
	}
	for k := range j.Slots {
		n, err := strconv.Atoi(k)
		if err != nil || n < 0 || n > 15 || strconv.Itoa(n) != k {
			return nil, &ImageError{Field: "slots", Msg: fmt.Sprintf("unknown slot %q", k)}
		}
	}
	for i := range im.Slots {
		name := "slots." + strconv.Itoa(i)
		s, ok := j.Slots[strconv.Itoa(i)]
		if !ok {
			return nil, &ImageError{Field: name, Msg: "missing"}
		}
		im.Slots[i] = make([]byte, slotSize(i))
		if err := decodeHex(name, s, im.Slots[i]); err != nil {
			return nil, err
		}
	}
	return im, nil
}

func decodeHex(field string, s *string, dst []byte) error {
	if s == nil {
		return &ImageError{Field: field, Msg: "missing"}
	}
	b, err := hex.DecodeString(*s)
	if err != nil {
		return &ImageError{Field: field, Msg: "bad hex: " + err.Error()}
	}
	if len(b) != len(dst) {
		return &ImageError{Field: field, Msg: fmt.Sprintf("%d bytes, want %d", len(b), len(dst))}
	}
	copy(dst, b)
	return nil
}

// check reports whether every slot has its full size.
func (im *Image) check() error {
	for i, s := range im.Slots {
		if len(s) != slotSize(i) {
			return &ImageError{Field: "slots." + strconv.Itoa(i), Msg: fmt.Sprintf("%d bytes, want %d", len(s), slotSize(i))}
		}
	}
	return nil
}

// MarshalJSON encodes the image as {"config","otp","slots"} with lower-case
// hex and slots in numeric order.
func (im *Image) MarshalJSON() ([]byte, error) {
	if err := im.check(); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"config":"%x","otp":"%x","slots":{`, im.Config[:], im.OTP[:])
	for i, s := range im.Slots {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"%d":"%x"`, i, s)
	}
	b.WriteString("}}")
	return b.Bytes(), nil
}

// UnmarshalJSON decodes an image as ParseImage does.
func (im *Image) UnmarshalJSON(data []byte) error {
	p, err := ParseImage(data)
	if err != nil {
		return err
	}
	*im = *p
	return nil
}

// ErrRevision is returned by NewChipFromImage when the image's RevNum is
// not a simulated device or contradicts Options.Revision.
var ErrRevision = errors.New("nerveskeytest: unsupported chip revision")

// revisionOf maps RevNum (config bytes 4–7) to a Revision.
func revisionOf(cfg *[128]byte) (Revision, bool) {
	switch {
	case cfg[6] == 0x50:
		return ATECC508A, true
	case cfg[6] == 0x60 && cfg[7] >= 0x03:
		return ATECC608B, true
	case cfg[6] == 0x60:
		return ATECC608A, true
	}
	return 0, false
}

// NewChipFromImage returns an asleep chip whose EEPROM is img. The device
// type comes from the image's RevNum (config bytes 4–7); opts.Revision, if
// set, must agree. The serial number is the image's. A private key slot
// holds a valid key when its scalar is in [1, n-1].
func NewChipFromImage(img *Image, opts *Options) (*Chip, error) {
	if img == nil {
		return nil, &ImageError{Msg: "nil image"}
	}
	if err := img.check(); err != nil {
		return nil, err
	}
	rev, ok := revisionOf(&img.Config)
	if !ok {
		return nil, fmt.Errorf("%w: RevNum % x", ErrRevision, img.Config[4:8])
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Revision != 0 && o.Revision != rev {
		return nil, fmt.Errorf("%w: image is %v, options ask for %v", ErrRevision, rev, o.Revision)
	}
	o.Revision = rev
	c := newChip(&o)
	c.config = img.Config
	c.otp = img.OTP
	for i, s := range img.Slots {
		c.slots[i] = bytes.Clone(s)
		kc := c.keyConfig(i)
		if kcPrivate(kc) && kcKeyType(kc) == keyTypeP256 && i < 16 {
			c.keyValid[i] = validScalar(c.privateScalar(i))
		}
	}
	c.powerUp()
	return c, nil
}

// Image returns a snapshot of the chip's EEPROM, slot 0 included.
func (c *Chip) Image() *Image {
	c.mu.Lock()
	defer c.mu.Unlock()
	im := &Image{Config: c.config, OTP: c.otp}
	for i, s := range c.slots {
		im.Slots[i] = bytes.Clone(s)
	}
	return im
}
