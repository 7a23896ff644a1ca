//! 淘宝特价 Taobao Deals: a storefront mini-program.
//!
//! Pages: `pages/index` (the deals, a page of eight at a time), `pages/item`
//! (one deal: add to cart, buy, share, the shop and its live room), `pages/cart`
//! (quantities, a coupon, checkout), `pages/result` (the payment's outcome, retry),
//! `pages/orders` and `pages/refund` (after-sales: 申请退款 one item or the rest of
//! a paid order, its refunds' status as the host reports it). The cart and the
//! orders are kept in storage across runs; refunds are the host's to report.

mod catalogue;

use catalogue::{COUPONS, ITEMS, Item};
use miniapp_sdk::link::{self, Card, LinkReply, Target};
use miniapp_sdk::payment::{self, Order, OrderDetails, PaymentResult, RefundStatus, Status};
use miniapp_sdk::prelude::*;
use miniapp_sdk::view::{
    ButtonStyle, Key, Node, Tone, View, badge, button, divider, heading, image, input, price, row, text,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The storefront's merchant account with the host.
const MERCHANT: &str = "1900000109";
/// Deals per page on the home page.
const PER_PAGE: usize = 8;

#[derive(Default)]
struct Storefront {
    /// The page on top and its query.
    path: String,
    query: BTreeMap<String, String>,
    /// A one-off message shown at the top of the next view.
    notice: Option<(String, Tone)>,
    /// The coupon applied in the cart.
    coupon: Option<&'static str>,
}

#[derive(Serialize, Deserialize, Default)]
struct Cart {
    lines: Vec<Line>,
}

#[derive(Serialize, Deserialize, Clone)]
struct Line {
    item: u32,
    quantity: u32,
}

/// An order as the storefront remembers it.
#[derive(Serialize, Deserialize, Clone)]
struct OrderRecord {
    no: String,
    amount: i64,
    pieces: u32,
    description: String,
    status: String,
    method: Option<String>,
    transaction_id: Option<String>,
    reason: Option<String>,
    /// What was bought (empty for orders kept before after-sales existed).
    #[serde(default)]
    lines: Vec<Line>,
    /// The cart's total before the coupon, fen: each line's share of the paid
    /// amount is its price times `amount / total`.
    #[serde(default)]
    total: i64,
}

impl MiniApp for Storefront {
    fn on_launch(&mut self, launch: LaunchContext) -> Result<()> {
        println!("淘宝特价 opened from {}", launch.surface);
        self.path = launch.path;
        self.query = launch.query;
        self.render()
    }

    fn on_show(&mut self) -> Result<()> {
        self.render()
    }

    fn on_event(&mut self, event: Event) -> Result<()> {
        match event {
            Event::Page { path, query, .. } => {
                self.path = path;
                self.query = query;
                self.render()
            }
            Event::Tap { action, payload } => self.tap(&action, &payload),
            Event::Input { field, value } if field == "coupon" => {
                self.apply_coupon(&value);
                self.render()
            }
            _ => Ok(()),
        }
    }
}

impl Storefront {
    fn tap(&mut self, action: &str, payload: &Value) -> Result<()> {
        let id = payload.get("id").and_then(Value::as_u64).unwrap_or(0) as u32;
        match action {
            "item.open" => return view::navigate("pages/item", &[("id", &id.to_string())]).map(drop),
            "cart.open" => return view::navigate("pages/cart", &[]).map(drop),
            "orders.open" => return view::navigate("pages/orders", &[]).map(drop),
            "home" => return view::back(10).map(drop),
            "home.page" => {
                let page = payload.get("page").and_then(Value::as_u64).unwrap_or(1);
                return view::redirect("pages/index", &[("page", &page.to_string())]).map(drop);
            }
            "cart.add" => {
                self.change_quantity(id, 1)?;
                let title = catalogue::item(id).map_or("", |i| i.title);
                self.notice = Some((format!("已加入购物车 Added to cart: {title}"), Tone::Success));
            }
            "buy.now" => {
                self.change_quantity(id, 1)?;
                return view::navigate("pages/cart", &[]).map(drop);
            }
            "cart.inc" => self.change_quantity(id, 1)?,
            "cart.dec" => self.change_quantity(id, -1)?,
            "cart.remove" => self.change_quantity(id, -1000)?,
            "checkout" => return self.checkout(),
            "pay.retry" => {
                let no = payload.get("order").and_then(Value::as_str).unwrap_or_default().to_string();
                return self.retry(&no);
            }
            "pay.query" => {
                let no = payload.get("order").and_then(Value::as_str).unwrap_or_default().to_string();
                let result = payment::query(MERCHANT, &no)?;
                self.record_result(&result.order)?;
            }
            "refund.open" => {
                let no = payload.get("order").and_then(Value::as_str).unwrap_or_default().to_string();
                return view::navigate("pages/refund", &[("order", &no)]).map(drop);
            }
            "refund.item" | "refund.rest" => {
                let no = payload.get("order").and_then(Value::as_str).unwrap_or_default().to_string();
                let item = (action == "refund.item").then_some(id);
                self.refund(&no, item)?;
            }
            "share.chat" => self.share(id, Surface::Chat)?,
            "share.group" => self.share(id, Surface::Group)?,
            "share.moments" => self.share(id, Surface::Moments)?,
            "shop.open" => {
                let reply = link::open(Target::deep_link(format!("taobao://shop/{id}")))?;
                self.link_notice("进店 Shop", &reply);
            }
            "live.open" => {
                let room = payload.get("room").and_then(Value::as_u64).unwrap_or(0);
                let reply = link::open(Target::deep_link(format!("taobao://live/{room}")))?;
                self.link_notice("直播间 Live room", &reply);
            }
            other => {
                self.notice = Some((format!("unknown action {other}"), Tone::Danger));
            }
        }
        self.render()
    }

    fn render(&mut self) -> Result<()> {
        let mut screen = match self.path.as_str() {
            "pages/item" => self.item_page()?,
            "pages/cart" => self.cart_page()?,
            "pages/result" => self.result_page()?,
            "pages/orders" => self.orders_page()?,
            "pages/refund" => self.refund_page()?,
            _ => self.home_page()?,
        };
        if let Some((message, tone)) = self.notice.take() {
            screen.body.insert(0, text(message).tone(tone));
        }
        view::render(&screen)
    }

    fn home_page(&self) -> Result<View> {
        let cart = load_cart()?;
        let page: usize = self.query.get("page").and_then(|p| p.parse().ok()).unwrap_or(1).max(1);
        let pages = ITEMS.len().div_ceil(PER_PAGE);
        let page = page.min(pages);
        let mut deals: Vec<&Item> = ITEMS.iter().collect();
        deals.sort_by_key(|item| std::cmp::Reverse(item.discount_percent()));
        let mut screen = View::new("淘宝特价 Taobao Deals")
            .push(row([
                button(format!("购物车 Cart ({})", pieces(&cart)), "cart.open").key(Key::C),
                button("我的订单 Orders", "orders.open").key(Key::O),
            ]))
            .push(heading(format!("今日特价 Today's deals · {page}/{pages}")));
        let entries = deals.iter().skip((page - 1) * PER_PAGE).take(PER_PAGE).map(|item| deal_row(item));
        screen = screen.push(view::list(entries));
        let mut paging = Vec::new();
        if page > 1 {
            paging.push(button("上一页 Previous", "home.page").payload(json!({"page": page - 1})).key(Key::P));
        }
        if page < pages {
            paging.push(button("下一页 More deals", "home.page").payload(json!({"page": page + 1})).key(Key::N));
        }
        Ok(screen.push(divider()).push(row(paging)))
    }

    fn item_page(&self) -> Result<View> {
        let id: u32 = self.query.get("id").and_then(|id| id.parse().ok()).unwrap_or(0);
        let Some(item) = catalogue::item(id) else {
            return Ok(View::new("淘宝特价")
                .push(text(format!("这件商品已下架 Item {id} is no longer on sale")).tone(Tone::Danger))
                .push(button("返回首页 Home", "home")));
        };
        let shop = item.shop();
        let payload = json!({"id": item.id});
        let mut screen = View::new(item.title)
            .push(image(item.image(), item.title))
            .push(heading(item.title))
            .push(row([
                price(item.price).was(item.original),
                badge(format!("-{}%", item.discount_percent())).tone(Tone::Accent),
                badge(if item.free_shipping { "包邮 Free shipping" } else { "运费 ¥8" }),
            ]))
            .push(text(format!("月销 {} · {}", item.sold, shop.name)).tone(Tone::Muted))
            .push(row([
                button("加入购物车 Add to cart", "cart.add")
                    .payload(payload.clone())
                    .style(ButtonStyle::Primary)
                    .key(Key::A),
                button("立即购买 Buy now", "buy.now").payload(payload.clone()).key(Key::B),
            ]))
            .push(divider())
            .push(row([
                button("分享给朋友 Share to chat", "share.chat").payload(payload.clone()).key(Key::S),
                button("分享到群 Share to group", "share.group").payload(payload.clone()).key(Key::G),
                button("分享到朋友圈 Share to Moments", "share.moments").payload(payload).key(Key::M),
            ]))
            .push(row([button(format!("进店 {}", shop.name), "shop.open").payload(json!({"id": shop.id})).key(Key::D)]));
        if let Some(room) = shop.live_room {
            screen = screen.push(button("直播间 Live room", "live.open").payload(json!({"room": room})).key(Key::L));
        }
        Ok(screen.push(button("购物车 Cart", "cart.open").key(Key::C)))
    }

    fn cart_page(&self) -> Result<View> {
        let cart = load_cart()?;
        let mut screen = View::new("购物车 Cart");
        if cart.lines.is_empty() {
            return Ok(screen
                .push(text("购物车是空的 Your cart is empty").tone(Tone::Muted))
                .push(button("去逛逛 Browse deals", "home").key(Key::H)));
        }
        let lines = cart.lines.iter().filter_map(|line| {
            let item = catalogue::item(line.item)?;
            let payload = json!({"id": item.id});
            Some(view::column([
                text(item.title),
                row([
                    price(item.price * i64::from(line.quantity)),
                    text(format!("× {}", line.quantity)),
                    button("+", "cart.inc").payload(payload.clone()),
                    button("−", "cart.dec").payload(payload.clone()),
                    button("删除 Remove", "cart.remove").payload(payload).style(ButtonStyle::Danger),
                ]),
            ]))
        });
        screen = screen.push(view::list(lines)).push(divider());
        let (total, discount) = totals(&cart, self.coupon);
        screen = screen.push(
            input("coupon")
                .label("优惠码 Coupon")
                .placeholder("输入优惠码 enter a code")
                .value(self.coupon.unwrap_or("")),
        );
        if discount > 0 {
            screen = screen.push(row([text("优惠 Discount"), price(discount), badge(self.coupon.unwrap_or(""))]));
        }
        Ok(screen
            .push(row([text(format!("合计 Total ({} 件)", pieces(&cart))), price(total - discount)]))
            .push(button("去结算 Checkout", "checkout").style(ButtonStyle::Primary).key(Key::P)))
    }

    fn result_page(&self) -> Result<View> {
        let no = self.query.get("order").cloned().unwrap_or_default();
        let Some(order) = load_orders()?.into_iter().find(|o| o.no == no) else {
            return Ok(View::new("订单 Order").push(text(format!("没有订单 {no}"))));
        };
        let retry = json!({"order": order.no});
        let mut screen = View::new("支付结果 Payment");
        screen = match order.status.as_str() {
            "paid" => screen
                .push(heading("支付成功 Paid"))
                .push(text(format!("已通过 {} 支付", order.method.clone().unwrap_or_default())).tone(Tone::Success)),
            "cancelled" => screen
                .push(heading("支付已取消 Payment cancelled"))
                .push(text("订单已保留，可以重新支付 The order is kept; you can pay again").tone(Tone::Muted))
                .push(button("重新支付 Pay again", "pay.retry").payload(retry).style(ButtonStyle::Primary).key(Key::R)),
            "pending" => screen
                .push(heading("等待确认 Waiting for confirmation"))
                .push(button("刷新状态 Check again", "pay.query").payload(retry).key(Key::R)),
            _ => screen
                .push(heading("支付失败 Payment failed"))
                .push(text(format!("原因 Reason: {}", order.reason.clone().unwrap_or_default())).tone(Tone::Danger))
                .push(button("重新支付 Pay again", "pay.retry").payload(retry).style(ButtonStyle::Primary).key(Key::R)),
        };
        let mut details = vec![
            text(format!("订单号 Order {}", order.no)),
            row([text("金额 Amount"), price(order.amount)]),
            text(order.description.clone()).tone(Tone::Muted),
        ];
        if let Some(transaction) = &order.transaction_id {
            details.push(text(format!("交易号 Transaction {transaction}")).tone(Tone::Muted));
        }
        Ok(screen.push(view::column(details)).push(divider()).push(row([
            button("我的订单 Orders", "orders.open").key(Key::O),
            button("继续逛 Keep shopping", "home").key(Key::H),
        ])))
    }

    fn orders_page(&self) -> Result<View> {
        let orders = load_orders()?;
        let mut screen = View::new("我的订单 Orders");
        if orders.is_empty() {
            screen = screen.push(text("还没有订单 No orders yet").tone(Tone::Muted));
        }
        let mut entries = Vec::new();
        for order in orders.iter().rev().take(20) {
            let mut status = badge(order.status.clone()).tone(Tone::Muted);
            let mut lines = Vec::new();
            if order.status == "paid" {
                let details = payment::query(MERCHANT, &order.no)?;
                status = badge(after_sales_status(&details)).tone(Tone::Success);
                if details.refundable_amount > 0 && !order.lines.is_empty() {
                    let open = json!({"order": order.no});
                    lines.push(button("申请退款 Refund", "refund.open").payload(open));
                }
            }
            let mut entry = vec![
                row([text(order.no.clone()), price(order.amount), status]),
                text(order.description.clone()).tone(Tone::Muted),
            ];
            entry.extend(lines);
            entries.push(view::column(entry));
        }
        Ok(screen.push(view::list(entries)).push(button("继续逛 Keep shopping", "home").key(Key::H)))
    }

    /// After-sales for one paid order: refund an item, or the rest; the refunds
    /// and their status as the host reports them (queried on every render, so a
    /// refresh shows a refund settling).
    fn refund_page(&self) -> Result<View> {
        let no = self.query.get("order").cloned().unwrap_or_default();
        let Some(order) = load_orders()?.into_iter().find(|o| o.no == no) else {
            return Ok(View::new("申请退款 After-sales").push(text(format!("没有订单 {no}"))));
        };
        let details = payment::query(MERCHANT, &order.no)?;
        let mut screen = View::new("申请退款 After-sales")
            .push(text(format!("订单号 Order {}", order.no)))
            .push(row([text("实付 Paid"), price(details.paid_amount)]))
            .push(row([text("已退 Refunded"), price(details.refunded_amount)]))
            .push(row([text("可退 Refundable"), price(details.refundable_amount)]))
            .push(divider());
        for line in &order.lines {
            let Some(item) = catalogue::item(line.item) else { continue };
            let refund_no = refund_no(&order.no, Some(line.item));
            let share = line_share(&order, line);
            let mut entry = vec![text(format!("{} ×{}", item.title, line.quantity)), price(share)];
            match details.refunds.iter().find(|r| r.out_refund_no == refund_no) {
                Some(refund) => entry.push(badge(refund_status(refund.status)).tone(Tone::Muted)),
                None if share <= details.refundable_amount => entry.push(
                    button("退这件 Refund this item", "refund.item").payload(json!({"order": order.no, "id": line.item})),
                ),
                None => {}
            }
            screen = screen.push(row(entry));
        }
        if details.refundable_amount > 0 && details.refunds.iter().all(|r| r.out_refund_no != refund_no(&order.no, None))
        {
            screen = screen.push(
                button("全部退款 Refund the rest", "refund.rest").payload(json!({"order": order.no})).style(ButtonStyle::Primary),
            );
        }
        if !details.refunds.is_empty() {
            let refunds = details.refunds.iter().map(|refund| {
                row([text(refund.out_refund_no.clone()), price(refund.amount), badge(refund_status(refund.status))])
            });
            screen = screen.push(heading("退款记录 Refunds")).push(view::list(refunds));
        }
        Ok(screen.push(divider()).push(row([
            button("我的订单 Orders", "orders.open").key(Key::O),
            button("继续逛 Keep shopping", "home").key(Key::H),
        ])))
    }

    /// Asks the host to refund one line of order `no` (its share of what was
    /// paid), or everything still refundable.
    fn refund(&mut self, no: &str, item: Option<u32>) -> Result<()> {
        let Some(order) = load_orders()?.into_iter().find(|o| o.no == no) else {
            return Err(Error::new(ErrorCode::InvalidArgument, format!("no order {no}")));
        };
        let amount = match item {
            Some(id) => match order.lines.iter().find(|l| l.item == id) {
                Some(line) => line_share(&order, line),
                None => return Err(Error::new(ErrorCode::InvalidArgument, format!("order {no} has no item {id}"))),
            },
            None => payment::query(MERCHANT, no)?.refundable_amount,
        };
        let reason = match item.and_then(catalogue::item) {
            Some(item) => format!("退货 {}", item.title.chars().take(40).collect::<String>()),
            None => "整单退款".to_string(),
        };
        let request = payment::Refund::new(MERCHANT, no, &refund_no(no, item), amount).because(&reason);
        self.notice = Some(match payment::refund(&request) {
            Ok(refund) => (format!("已申请退款 Refund requested: {}", refund_status(refund.status)), Tone::Success),
            Err(error) => (format!("退款失败 Refund refused: {}", error.message), Tone::Danger),
        });
        Ok(())
    }

    fn change_quantity(&mut self, id: u32, delta: i64) -> Result<()> {
        if catalogue::item(id).is_none() {
            return Err(Error::new(ErrorCode::InvalidArgument, format!("no item {id}")));
        }
        let mut cart = load_cart()?;
        match cart.lines.iter_mut().position(|line| line.item == id) {
            Some(index) => {
                let quantity = (i64::from(cart.lines[index].quantity) + delta).clamp(0, 99) as u32;
                if quantity == 0 {
                    cart.lines.remove(index);
                } else {
                    cart.lines[index].quantity = quantity;
                }
            }
            None if delta > 0 => cart.lines.push(Line { item: id, quantity: delta.min(99) as u32 }),
            None => {}
        }
        storage::set("cart", &cart)
    }

    fn apply_coupon(&mut self, code: &str) {
        let code = code.trim().to_uppercase();
        match COUPONS.iter().find(|(c, _, _)| *c == code) {
            Some((known, percent, _)) => {
                self.coupon = Some(known);
                self.notice = Some((format!("优惠码 {known} 已使用: {percent}% off"), Tone::Success));
            }
            None if code.is_empty() => self.coupon = None,
            None => self.notice = Some((format!("优惠码无效 Unknown coupon {code}"), Tone::Danger)),
        }
    }

    fn checkout(&mut self) -> Result<()> {
        let cart = load_cart()?;
        if cart.lines.is_empty() {
            self.notice = Some(("购物车是空的 Your cart is empty".into(), Tone::Danger));
            return self.render();
        }
        let (total, discount) = totals(&cart, self.coupon);
        let count: u64 = storage::get("order_counter")?.unwrap_or(0) + 1;
        storage::set("order_counter", &count)?;
        let first = cart.lines.first().and_then(|l| catalogue::item(l.item)).map_or("", |i| i.title);
        let mut description = format!("淘宝特价 {first}");
        while description.len() > 96 {
            description.pop();
        }
        if cart.lines.len() > 1 {
            description.push_str(&format!(" 等{}件", pieces(&cart)));
        }
        let order = OrderRecord {
            no: format!("TD{count:08}"),
            amount: total - discount,
            pieces: pieces(&cart),
            description,
            status: "created".into(),
            method: None,
            transaction_id: None,
            reason: None,
            lines: cart.lines.clone(),
            total,
        };
        let mut orders = load_orders()?;
        orders.push(order.clone());
        storage::set("orders", &orders)?;
        self.pay(&order)?;
        view::redirect("pages/result", &[("order", &order.no)]).map(drop)
    }

    fn retry(&mut self, no: &str) -> Result<()> {
        let Some(order) = load_orders()?.into_iter().find(|o| o.no == no) else {
            return Err(Error::new(ErrorCode::InvalidArgument, format!("no order {no}")));
        };
        self.pay(&order)?;
        self.render()
    }

    fn pay(&mut self, order: &OrderRecord) -> Result<()> {
        let result = payment::request(&Order::cny(MERCHANT, &order.no, order.amount, &order.description))?;
        println!("order {}: {} (attempt {})", order.no, result.status, result.attempt);
        self.record_result(&result)?;
        if result.status == Status::Paid {
            storage::set("cart", &Cart::default())?;
            self.coupon = None;
        }
        Ok(())
    }

    fn record_result(&mut self, result: &PaymentResult) -> Result<()> {
        let mut orders = load_orders()?;
        if let Some(order) = orders.iter_mut().find(|o| o.no == result.out_trade_no) {
            order.status = result.status.to_string();
            order.method = result.method.as_ref().map(|m| {
                match m.as_str() {
                    "alipay" => "支付宝 Alipay",
                    "wechat_pay" => "微信支付 WeChat Pay",
                    other => other,
                }
                .to_string()
            });
            order.transaction_id = result.transaction_id.clone();
            order.reason = result.reason.map(|r| r.to_string());
        }
        storage::set("orders", &orders)
    }

    fn share(&mut self, id: u32, surface: Surface) -> Result<()> {
        let Some(item) = catalogue::item(id) else { return Ok(()) };
        let card = Card {
            title: format!("¥{}.{:02} {}", item.price / 100, item.price % 100, item.title),
            target: Target::web(item.web_url()),
            image: Some(item.image()),
        };
        let reply = link::share(card, surface)?;
        self.link_notice(&format!("分享 Share to {surface}"), &reply);
        Ok(())
    }

    fn link_notice(&mut self, what: &str, reply: &LinkReply) {
        let tone = if reply.is_opened() { Tone::Success } else { Tone::Danger };
        self.notice = Some((format!("{what}: {} — {}", reply.outcome, reply.message), tone));
    }
}

fn deal_row(item: &Item) -> Node {
    row([
        button(item.title, "item.open").payload(json!({"id": item.id})),
        price(item.price).was(item.original),
        badge(format!("-{}%", item.discount_percent())).tone(Tone::Accent),
    ])
}

fn load_cart() -> Result<Cart> {
    Ok(storage::get("cart")?.unwrap_or_default())
}

fn load_orders() -> Result<Vec<OrderRecord>> {
    Ok(storage::get("orders")?.unwrap_or_default())
}

/// The refund number of one line of an order (`TD00000001-1042`), or of the
/// rest of it (`TD00000001-REST`): the same request is the same refund.
fn refund_no(order: &str, item: Option<u32>) -> String {
    match item {
        Some(id) => format!("{order}-{id}"),
        None => format!("{order}-REST"),
    }
}

/// A line's share of what was paid, in whole fen (rounded down, so the shares
/// never add up to more than was paid).
fn line_share(order: &OrderRecord, line: &Line) -> i64 {
    let price = catalogue::item(line.item).map_or(0, |i| i.price * i64::from(line.quantity));
    match order.total {
        0 => 0,
        total => i64::try_from(i128::from(price) * i128::from(order.amount) / i128::from(total)).unwrap_or(0),
    }
}

/// How a refund stands, in the storefront's words (short enough for a badge).
fn refund_status(status: RefundStatus) -> &'static str {
    match status {
        RefundStatus::Processing => "退款中 Processing",
        RefundStatus::Success => "退款成功 Refunded",
        RefundStatus::Abnormal => "退款异常 Abnormal",
        RefundStatus::Closed => "退款关闭 Closed",
    }
}

/// How a paid order stands after sales.
fn after_sales_status(details: &OrderDetails) -> String {
    if details.refunds.iter().any(|r| r.status == RefundStatus::Processing) {
        "退款中 Processing".to_string()
    } else if details.refunded_amount > 0 && details.refunded_amount == details.paid_amount {
        "已退款 Refunded".to_string()
    } else if details.refunded_amount > 0 {
        "部分退款 Partial".to_string()
    } else {
        "paid".to_string()
    }
}

fn pieces(cart: &Cart) -> u32 {
    cart.lines.iter().map(|l| l.quantity).sum()
}

/// The cart's total and the coupon's discount, in fen.
fn totals(cart: &Cart, coupon: Option<&str>) -> (i64, i64) {
    let total: i64 =
        cart.lines.iter().filter_map(|l| catalogue::item(l.item).map(|i| i.price * i64::from(l.quantity))).sum();
    let discount = coupon
        .and_then(|code| COUPONS.iter().find(|(c, _, _)| *c == code))
        .map_or(0, |(_, percent, cap)| (total * percent / 100).min(*cap));
    (total, discount)
}

miniapp_sdk::export_app!(Storefront);
