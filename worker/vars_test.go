//go:build linux

package worker

import "testing"

func TestFindArg(t *testing.T) {
	tests := []struct{ args, name, want string }{
		{"a=1&b=2", "b", "2"},
		{"a=1&B=2", "b", "2"},
		{"ab=1&a=2", "a", "2"},
		{"a&a=3", "a", "3"},
		{"a=", "a", ""},
		{"x=1", "a", ""},
		{"", "a", ""},
		{"a=1&a=2", "a", "1"},
	}
	for i, tt := range tests {
		if got := string(findArg([]byte(tt.args), tt.name)); got != tt.want {
			t.Errorf("%d: findArg(%q, %q) = %q, want %q", i, tt.args, tt.name, got, tt.want)
		}
	}
}

func TestHeaderVariables(t *testing.T) {
	head := []byte("Host: x\r\nX-Foo: one\r\nUser-Agent:  ua/1 \r\nx-foo: two\r\nCookie: a=1; Sess=s1\r\nCookie: b=2\r\nX-Empty:\r\n\r\n")
	tests := []struct{ name, sep, want string }{
		{"x_foo", ", ", "one, two"},
		{"user_agent", ", ", "ua/1"},
		{"cookie", "; ", "a=1; Sess=s1; b=2"},
		{"host", ", ", "x"},
		{"x_empty", ", ", ""},
		{"missing", ", ", ""},
		{"x_fo", ", ", ""},
	}
	for i, tt := range tests {
		if got := string(appendHeader(nil, head, tt.name, tt.sep)); got != tt.want {
			t.Errorf("%d: $http_%s = %q, want %q", i, tt.name, got, tt.want)
		}
	}
	cookies := []struct{ name, want string }{{"a", "1"}, {"sess", "s1"}, {"b", "2"}, {"c", ""}}
	for i, c := range cookies {
		if got := string(findCookie(head, c.name)); got != c.want {
			t.Errorf("%d: $cookie_%s = %q, want %q", i, c.name, got, c.want)
		}
	}
}
