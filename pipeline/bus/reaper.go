package bus

import (
	"context"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"

	"passerelle/internal/tick"
)

// reapEvery is how often the reaper looks at the groups.
const reapEvery = time.Second

// reaper evicts the consumer-group members of the embedded broker that have gone
// silent, as Kafka does when a member's session times out.
//
// kfake starts a member's session timer when its answer to JoinGroup reaches it. A hub
// that dies while it waits in JoinGroup (a SIGKILL during a rebalance) never gets that
// answer, so its member has no timer: the group completes with it, the leader gives it
// partitions, and once the leader has synced nothing ever removes it. Its partitions
// are then read by nobody, for good: deliveries stop without an error
// (TestCrashTheHubRepeatedly found it, one run in ten under load). The reaper watches
// the requests that carry a member id and evicts, with a LeaveGroup on the member's
// behalf, one that nothing was heard from for longer than its group's session and
// rebalance timeouts: a live member sends a heartbeat every HeartbeatInterval, and one
// that waits in JoinGroup does so for at most the rebalance timeout. Kafka itself needs
// none of this; with a kfake that times such members out, the reaper finds nobody.
type reaper struct {
	addr string
	log  *zap.Logger

	mu sync.Mutex
	// heard is when a request last carried each member's id, or when the reaper
	// first saw the member in its group.
	heard map[groupMember]time.Time
	// patience is, per group, the longest session or rebalance timeout its joins
	// asked for.
	patience map[string]time.Duration
}

type groupMember struct{ group, member string }

func newReaper(addr string, log *zap.Logger) *reaper {
	return &reaper{addr: addr, log: log, heard: map[groupMember]time.Time{}, patience: map[string]time.Duration{}}
}

// watch makes c tell the reaper about every request that carries a member id. The
// control functions only observe: they never handle a request.
func (r *reaper) watch(c *kfake.Cluster) {
	observe := func(key kmsg.Key, member func(kmsg.Request) (group, id string)) {
		c.ControlKey(int16(key), func(req kmsg.Request) (kmsg.Response, error, bool) {
			if g, id := member(req); id != "" {
				r.hear(g, id)
			}
			return nil, nil, false
		})
	}
	c.ControlKey(int16(kmsg.JoinGroup), func(req kmsg.Request) (kmsg.Response, error, bool) {
		j := req.(*kmsg.JoinGroupRequest)
		r.mu.Lock()
		p := time.Duration(max(j.SessionTimeoutMillis, j.RebalanceTimeoutMillis)) * time.Millisecond
		r.patience[j.Group] = max(r.patience[j.Group], p)
		r.mu.Unlock()
		if j.MemberID != "" {
			r.hear(j.Group, j.MemberID)
		}
		return nil, nil, false
	})
	observe(kmsg.SyncGroup, func(req kmsg.Request) (string, string) {
		s := req.(*kmsg.SyncGroupRequest)
		return s.Group, s.MemberID
	})
	observe(kmsg.Heartbeat, func(req kmsg.Request) (string, string) {
		h := req.(*kmsg.HeartbeatRequest)
		return h.Group, h.MemberID
	})
	observe(kmsg.OffsetCommit, func(req kmsg.Request) (string, string) {
		o := req.(*kmsg.OffsetCommitRequest)
		return o.Group, o.MemberID
	})
}

func (r *reaper) hear(group, member string) {
	r.mu.Lock()
	r.heard[groupMember{group, member}] = time.Now()
	r.mu.Unlock()
}

// run reaps every reapEvery until ctx ends.
func (r *reaper) run(ctx context.Context) {
	transport := &kafka.Transport{ClientID: clientID}
	defer transport.CloseIdleConnections()
	client := &kafka.Client{Addr: kafka.TCP(r.addr), Timeout: 5 * time.Second, Transport: transport}
	tick.Every(ctx, reapEvery, func(ctx context.Context) { r.reap(ctx, client) })
}

// reap evicts the members of the watched groups that have been silent for longer than
// their group's patience (plus a second, for the heartbeat in flight).
func (r *reaper) reap(ctx context.Context, client *kafka.Client) {
	r.mu.Lock()
	groups := make(map[string]time.Duration, len(r.patience))
	for g, p := range r.patience {
		groups[g] = p + time.Second
	}
	r.mu.Unlock()
	if len(groups) == 0 {
		return
	}
	ids := make([]string, 0, len(groups))
	for g := range groups {
		ids = append(ids, g)
	}
	res, err := client.DescribeGroups(ctx, &kafka.DescribeGroupsRequest{GroupIDs: ids})
	if err != nil {
		return // the broker is closing, or busy: next time
	}
	now := time.Now()
	for _, g := range res.Groups {
		if g.Error != nil {
			continue
		}
		var silent []kafka.LeaveGroupRequestMember
		present := map[string]bool{}
		r.mu.Lock()
		for _, m := range g.Members {
			k := groupMember{g.GroupID, m.MemberID}
			present[m.MemberID] = true
			last, ok := r.heard[k]
			switch {
			case !ok:
				r.heard[k] = now // first seen: its silence starts now
			case now.Sub(last) > groups[g.GroupID]:
				silent = append(silent, kafka.LeaveGroupRequestMember{ID: m.MemberID})
				delete(r.heard, k)
			}
		}
		for k := range r.heard {
			if k.group == g.GroupID && !present[k.member] {
				delete(r.heard, k) // gone from the group: forget it
			}
		}
		r.mu.Unlock()
		if len(silent) == 0 {
			continue
		}
		if _, err := client.LeaveGroup(ctx, &kafka.LeaveGroupRequest{GroupID: g.GroupID, Members: silent}); err != nil {
			continue // next time
		}
		r.log.Warn("embedded broker: evicted consumer-group members nothing was heard from (a process that died while it joined)",
			zap.String("group", g.GroupID), zap.Int("count", len(silent)), zap.Duration("silent_for", groups[g.GroupID]))
	}
}
