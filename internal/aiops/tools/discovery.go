package tools

import (
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery"
)

// DefaultDiscoveryTTL is how long a DiscoveryCache trusts a workspace
// cluster's discovery when no kind was missing from it.
const DefaultDiscoveryTTL = 5 * time.Minute

// DiscoveryCache keeps each workspace cluster's discovery (its API groups
// and their resources) for a while, so that the tools' REST mappers of
// successive turns and calls need not ask for it again: without it, every
// turn whose tool names a kind sent the two discovery requests (and parsed
// their answers) through the gateway before its own request.
//
// It holds no credential and makes no request of its own. A Target whose
// workspace has no fresh entry asks with its own client, as its caller,
// and stores what it got; so does a Target that misses a kind in the
// cached entry (a CustomResourceDefinition added since): its REST mapper
// then asks again, as its caller, once. The cached documents are the same
// for every user of a cluster (the API server grants discovery to every
// authenticated user); whether a caller may use a kind is still decided
// by the cluster on the request the tool then sends with the caller's
// token. A zero DiscoveryCache is not usable: use NewDiscoveryCache.
type DiscoveryCache struct {
	ttl time.Duration
	now func() time.Time

	mu      sync.Mutex
	entries map[string]discoveryEntry // by workspace id
}

type discoveryEntry struct {
	groups    []*metav1.APIGroup
	resources []*metav1.APIResourceList
	at        time.Time
}

// NewDiscoveryCache makes a DiscoveryCache whose entries live ttl (0:
// DefaultDiscoveryTTL), on the clock now (nil: time.Now).
func NewDiscoveryCache(ttl time.Duration, now func() time.Time) *DiscoveryCache {
	if ttl <= 0 {
		ttl = DefaultDiscoveryTTL
	}
	if now == nil {
		now = time.Now
	}
	return &DiscoveryCache{ttl: ttl, now: now, entries: map[string]discoveryEntry{}}
}

func (c *DiscoveryCache) get(key string) (discoveryEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok || c.now().Sub(e.at) >= c.ttl {
		return discoveryEntry{}, false
	}
	return e, true
}

// put stores a workspace's discovery and drops the entries past their
// time, so the cache holds only the workspaces used within its TTL.
func (c *DiscoveryCache) put(key string, gs []*metav1.APIGroup, rs []*metav1.APIResourceList) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	for k, e := range c.entries {
		if now.Sub(e.at) >= c.ttl {
			delete(c.entries, k)
		}
	}
	c.entries[key] = discoveryEntry{groups: gs, resources: rs, at: now}
}

// sharedDiscovery is a Target's discovery client: the workspace's cached
// entry while it is fresh and nothing was missing from it, otherwise the
// caller's own (memory-cached) discovery, whose answer it stores.
type sharedDiscovery struct {
	discovery.CachedDiscoveryInterface // the caller's own
	cache                              *DiscoveryCache
	key                                string

	mu     sync.Mutex
	cached bool // answered from the cache: not fresh
	bypass bool // invalidated: ask as the caller from now on
}

func (d *sharedDiscovery) ServerGroupsAndResources() ([]*metav1.APIGroup, []*metav1.APIResourceList, error) {
	d.mu.Lock()
	if !d.bypass {
		if e, ok := d.cache.get(d.key); ok {
			d.cached = true
			d.mu.Unlock()
			return e.groups, e.resources, nil
		}
	}
	d.cached = false
	d.mu.Unlock()
	gs, rs, err := d.CachedDiscoveryInterface.ServerGroupsAndResources()
	// A partial answer (a group that failed) is used, not kept.
	if err == nil {
		d.cache.put(d.key, gs, rs)
	}
	return gs, rs, err
}

// Fresh is false for an answer from the cache: a REST mapper that misses
// a kind in it then invalidates and asks again.
func (d *sharedDiscovery) Fresh() bool {
	d.mu.Lock()
	cached := d.cached
	d.mu.Unlock()
	return !cached && d.CachedDiscoveryInterface.Fresh()
}

func (d *sharedDiscovery) Invalidate() {
	d.mu.Lock()
	d.bypass, d.cached = true, false
	d.mu.Unlock()
	d.CachedDiscoveryInterface.Invalidate()
}
