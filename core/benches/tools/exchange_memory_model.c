// Memory model of one 100-byte exchange of the scale benchmark (issue 9):
// only the dependent memory reads, with tcpkit's sizes, to show what the
// caches alone cost at N connections. Build and run:
//   cc -O2 -Wall -Wextra -Werror -o /tmp/emm core/benches/tools/exchange_memory_model.c
//   /tmp/emm 10000 30000 100000 300000
// docs/BENCHMARKS.md, section scale10 (session 4), has the figures.
// Reads per exchange: the 7 lines of each end's slot, before them the harness's
// (c, s) pair array (16 B per connection) and, per stack, a demux control
// byte then its 4-byte bucket (hashbrown layout, 7/8 load, power of two).
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <time.h>
#define SLOT 448
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec*1e9+t.tv_nsec;}
static size_t pow2(size_t n){size_t b=16; while(b*7/8<n) b*=2; return b;}
int main(int argc,char**argv){
  for(int ai=1;ai<argc;ai++){
    size_t n=strtoul(argv[ai],0,10), nb=pow2(n);
    uint8_t*a=aligned_alloc(64,n*SLOT),*b=aligned_alloc(64,n*SLOT);
    uint64_t*pairs=malloc(n*16);
    uint8_t*ctrl[2]={malloc(nb+16),malloc(nb+16)}; uint32_t*bk[2]={malloc(nb*4),malloc(nb*4)};
    for(size_t i=0;i<n;i++){ for(int l=0;l<7;l++){*(uint64_t*)(a+i*SLOT+l*64)=i; *(uint64_t*)(b+i*SLOT+l*64)=i;} pairs[2*i]=i; pairs[2*i+1]=i;}
    for(int s=0;s<2;s++) for(size_t j=0;j<nb;j++){ctrl[s][j]=(uint8_t)j; bk[s][j]=(uint32_t)(j%n);} 
    uint64_t x=1, acc=0; size_t iters=2000000; double best=1e18;
    for(int run=0;run<5;run++){
      double t0=now();
      for(size_t it=0;it<iters;it++){
        x = x*6364136223846793005ULL+1442695040888963407ULL;
        size_t k=((x>>17)^acc)%n;
        size_t c=((volatile uint64_t*)pairs)[2*k];            // harness pair
        uint8_t*s=a+c*SLOT; uint64_t v=0;                     // client slot
        for(int l=0;l<7;l++) v+=*(volatile uint64_t*)(s+l*64);
        size_t h=(v/7*0x9e3779b97f4a7c15ULL>>20)&(nb-1);      // server demux
        uint8_t cb=((volatile uint8_t*)ctrl[1])[h];
        size_t k2=((volatile uint32_t*)bk[1])[(h+(cb&0))&(nb-1)] % n;
        uint8_t*t=b+k2*SLOT; uint64_t w=0;                    // server slot
        for(int l=0;l<7;l++) w+=*(volatile uint64_t*)(t+l*64);
        size_t h2=(w*0x9e3779b97f4a7c15ULL>>24)&(nb-1);       // client demux (response)
        uint8_t cb2=((volatile uint8_t*)ctrl[0])[h2];
        acc=((volatile uint32_t*)bk[0])[(h2+(cb2&0))&(nb-1)]&1;
      }
      double ns=(now()-t0)/iters; if(ns<best)best=ns;
    }
    printf("n=%zu  %.1f ns per iteration (best of 5)\n", n, best);
    free(a); free(b); free(pairs);
  }
  return 0;
}
