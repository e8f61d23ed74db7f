//! Following topics: the client's first value of a topic (nothing when it is current, the
//! missed patches while the hub holds them, else a snapshot), then on every wake the newest state
//! of each followed topic that moved — a patch when the client is one step behind, else a
//! snapshot — all in one write; topics that appear under a followed prefix are followed, removed
//! ones announced.

use axum::extract::ws::Message;
use futures_util::Sink;

use super::outbox::Outbox;
use super::{Followed, Refusal, Session, SessionContext, Stop};
use crate::access::Principal;
use crate::live::hub::frame;
use crate::live::protocol::{ServerMessage, Subscription};

impl Session {
    /// Sends the sources' freshness if it changed, then every followed topic that moved.
    pub(super) async fn send_all<S: Sink<Message> + Unpin>(
        &mut self,
        out: &mut Outbox<'_, S>,
        ctx: &SessionContext,
    ) -> Result<(), Stop> {
        self.send_source_status(out, ctx).await?;
        self.send_updates(out, ctx).await
    }

    /// Sends the sources' freshness if it changed since the client last got it.
    pub(super) async fn send_source_status<S: Sink<Message> + Unpin>(
        &mut self,
        out: &mut Outbox<'_, S>,
        ctx: &SessionContext,
    ) -> Result<(), Stop> {
        match ctx.hub.source_status() {
            Some((seq, frame)) if seq > self.status_sent => {
                self.status_sent = seq;
                out.control(frame).await
            }
            _ => Ok(()),
        }
    }

    /// Starts following one topic: nothing if the client is current, the missed patches while
    /// the hub still holds them, else the full value.
    pub(super) async fn follow<S: Sink<Message> + Unpin>(
        &mut self,
        wanted: Subscription,
        out: &mut Outbox<'_, S>,
        ctx: &SessionContext,
        grant: &Principal,
    ) -> Result<Result<(), Refusal>, Stop> {
        let name: String = wanted.topic.chars().take(100).collect();
        if !grant.may_follow(&wanted.topic) {
            return Ok(Err(Refusal::new(
                "not_allowed",
                format!("this token may not follow '{name}'"),
            )));
        }
        let Some(state) = ctx.hub.get(&wanted.topic) else {
            return Ok(Err(Refusal::new(
                "unknown_topic",
                format!("no topic named '{name}'"),
            )));
        };
        if !self.followed.contains_key(&wanted.topic) {
            if self.followed.len() >= ctx.limits.max_topics {
                let limit = ctx.limits.max_topics;
                return Ok(Err(Refusal::new(
                    "too_many_topics",
                    format!("one connection may follow at most {limit} topics"),
                )));
            }
            ctx.metrics.ws_subscriptions(1);
        }
        let missed = wanted
            .last_seq
            .and_then(|seq| ctx.hub.patches_since(&wanted.topic, seq));
        let delivered = match (wanted.last_seq, missed) {
            (Some(seq), _) if seq == state.seq => seq,
            (Some(seq), Some(patches)) => {
                let mut last = seq;
                for (patch_seq, patch) in patches {
                    out.feed(patch).await?;
                    last = patch_seq;
                }
                last
            }
            _ => {
                out.feed(state.snapshot_frame.clone()).await?;
                state.seq
            }
        };
        ctx.hub.follow(&wanted.topic, &self.bell);
        self.followed.insert(
            wanted.topic,
            Followed {
                delivered,
                slot: state.slot,
            },
        );
        Ok(Ok(()))
    }

    /// Sends the newest state of every followed topic that moved — all of them in one flush —,
    /// follows topics that appeared under a followed prefix, and tells of followed topics that
    /// were removed.
    pub(super) async fn send_updates<S: Sink<Message> + Unpin>(
        &mut self,
        out: &mut Outbox<'_, S>,
        ctx: &SessionContext,
    ) -> Result<(), Stop> {
        let names = ctx.hub.names_version();
        let appeared: Vec<String> = if !self.prefixes.is_empty() && names != self.names_seen {
            self.names_seen = names;
            self.prefixes
                .iter()
                .flat_map(|p| ctx.hub.topic_names_under(p))
                .filter(|t| !self.followed.contains_key(t))
                .collect()
        } else {
            Vec::new()
        };
        let mut removed = Vec::new();
        let mut frames = Vec::new();
        let states = ctx.hub.get_slots(self.followed.values().map(|f| f.slot));
        for ((topic, Followed { delivered, .. }), state) in self.followed.iter_mut().zip(states) {
            let Some(state) = state else {
                removed.push((topic.clone(), *delivered));
                continue;
            };
            if state.seq <= *delivered {
                continue;
            }
            frames.push(match &state.patch_frame {
                Some(patch) if state.seq == *delivered + 1 => patch.clone(),
                _ => {
                    ctx.metrics.ws_coalesced(state.seq - *delivered - 1);
                    state.snapshot_frame.clone()
                }
            });
            *delivered = state.seq;
        }
        for frame in frames {
            out.feed(frame).await?;
        }
        // Views of topics that moved are computed again at the new seq — after the updates
        // already fed have gone out, so a view being computed holds nothing else back.
        let moved: Vec<String> = self
            .views
            .iter()
            .filter(|(topic, view)| {
                self.followed
                    .get(*topic)
                    .is_some_and(|f| f.delivered > view.sent)
            })
            .map(|(topic, _)| topic.clone())
            .collect();
        if !moved.is_empty() {
            out.flush().await?;
        }
        for topic in moved {
            if let Some(view) = self.views.remove(&topic) {
                self.send_view(&topic, view, out, ctx).await?;
            }
        }
        for (topic, seq) in removed {
            self.views.remove(&topic);
            self.followed.remove(&topic);
            ctx.hub.unfollow(&topic, &self.bell);
            ctx.metrics.ws_subscriptions(-1);
            out.feed_control(frame(&ServerMessage::Removed { topic: &topic, seq }))
                .await?;
        }
        for topic in appeared {
            if let Some(state) = ctx.hub.get(&topic) {
                if self.followed.len() < ctx.limits.max_topics {
                    ctx.metrics.ws_subscriptions(1);
                    out.feed(state.snapshot_frame.clone()).await?;
                    ctx.hub.follow(&topic, &self.bell);
                    self.followed.insert(
                        topic,
                        Followed {
                            delivered: state.seq,
                            slot: state.slot,
                        },
                    );
                }
            }
        }
        out.flush().await
    }
}
