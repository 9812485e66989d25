"""The regression runner (test design, section 4.4): N trades with a known mix, checked in both stores."""
