;; The SIMD loop behind protocol/xor-simd.ts (RFC 6455 §5.3 masking). test/protocol/xor-simd.test.ts
;; assembles this file with wabt and checks that the bytes embedded in xor-simd.ts are the result
;; (on a mismatch it shows the base64 to paste there).
(module
  ;; One 64 KiB page: callers copy at most a page in, XOR it, and copy it out.
  (memory (export "memory") 1 1)
  ;; XORs [p, p + n) in place with the little-endian word w, repeated.
  (func (export "xor") (param $p i32) (param $n i32) (param $w i32)
    (local $end i32) (local $end64 i32) (local $v v128)
    (local.set $end (i32.add (local.get $p) (local.get $n)))
    (local.set $end64 (i32.add (local.get $p) (i32.and (local.get $n) (i32.const -64))))
    (local.set $v (i32x4.splat (local.get $w)))
    ;; 64 bytes per step.
    (block $done64 (loop $step64
      (br_if $done64 (i32.ge_u (local.get $p) (local.get $end64)))
      (v128.store offset=0 (local.get $p) (v128.xor (v128.load offset=0 (local.get $p)) (local.get $v)))
      (v128.store offset=16 (local.get $p) (v128.xor (v128.load offset=16 (local.get $p)) (local.get $v)))
      (v128.store offset=32 (local.get $p) (v128.xor (v128.load offset=32 (local.get $p)) (local.get $v)))
      (v128.store offset=48 (local.get $p) (v128.xor (v128.load offset=48 (local.get $p)) (local.get $v)))
      (local.set $p (i32.add (local.get $p) (i32.const 64)))
      (br $step64)))
    ;; Then whole words.
    (block $done4 (loop $step4
      (br_if $done4 (i32.gt_u (i32.add (local.get $p) (i32.const 4)) (local.get $end)))
      (i32.store (local.get $p) (i32.xor (i32.load (local.get $p)) (local.get $w)))
      (local.set $p (i32.add (local.get $p) (i32.const 4)))
      (br $step4)))
    ;; Then up to three bytes, each with the next byte of the word.
    (block $done1 (loop $step1
      (br_if $done1 (i32.ge_u (local.get $p) (local.get $end)))
      (i32.store8 (local.get $p) (i32.xor (i32.load8_u (local.get $p)) (local.get $w)))
      (local.set $w (i32.shr_u (local.get $w) (i32.const 8)))
      (local.set $p (i32.add (local.get $p) (i32.const 1)))
      (br $step1)))))
